/* Before a signed-in session ends without activity (SESSION_IDLE_SECONDS), the page says so and offers to
   stay signed in (WCAG 2.2.1). The time left is counted down in words, and once it has run out the
   warning says the user was signed out and offers to sign in again, back to this page. Without
   JavaScript, the form pages state the limit in words.

   The tabs of a browser share one session, so they tell each other what they learn of it through
   localStorage (its storage event reaches the others): when the session now ends, from a page's answer
   or "Stay signed in", and that the user signed out. Only those times are stored. Where the browser
   refuses storage, each tab counts down on its own. */
(() => {
  "use strict";
  const dialog = document.getElementById("session-warning");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const title = document.getElementById("session-warning-title");
  const message = document.getElementById("session-warning-text");
  const stay = dialog.querySelector("button.session-stay");
  const close = dialog.querySelector("button.session-close");
  const signIn = dialog.querySelector("a.session-sign-in");
  const signOut = document.querySelector("form.sign-out");
  const warnBefore = Number(dialog.dataset.warnBefore);
  const saidTitle = title.textContent;
  const ENDS_AT = "harbour-session-ends-at";
  const SIGNED_OUT_AT = "harbour-signed-out-at";
  let endsAt = 0;
  let warning = false;
  let ended = false;
  let timer;
  let ticker;

  const tellOtherTabs = (key, time) => {
    try {
      localStorage.setItem(key, String(time));
    } catch {
      // Storage refused: the other tabs count down on their own, as this one does.
    }
  };

  // "2 minutes", "1 minute", then "less than a minute": the live region speaks only when the words change.
  const timeLeftInWords = (seconds) => {
    if (seconds <= 60) return seconds > 59 ? "1 minute" : "less than a minute";
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minutes`;
  };

  const say = (words) => {
    if (message.textContent !== words) message.textContent = words;
  };

  const signedOut = (words) => {
    clearTimeout(timer);
    clearInterval(ticker);
    ended = true;
    title.textContent = "You have been signed out";
    say(words);
    stay.hidden = true;
    signIn.hidden = false;
    close.hidden = false;
    if (!dialog.open) dialog.showModal();
    signIn.focus();
  };

  const tick = () => {
    const secondsLeft = Math.round((endsAt - Date.now()) / 1000);
    if (secondsLeft <= 0) {
      signedOut(dialog.dataset.ended);
      return;
    }
    say(`You will be signed out in ${timeLeftInWords(secondsLeft)} unless you continue.`);
  };

  const warn = () => {
    warning = true;
    title.textContent = saidTitle;
    signIn.hidden = true;
    tick();
    if (ended) return;
    ticker = setInterval(tick, 1000);
    if (!dialog.open) dialog.showModal(); // focuses its button
  };

  // The session now ends at `time`. A warning shown goes on counting down to it, unless it is far enough
  // off not to warn yet: then the warning closes, to come again in time.
  const endAt = (time) => {
    endsAt = time;
    clearTimeout(timer);
    const wait = time - warnBefore * 1000 - Date.now();
    if (wait > 0) {
      clearInterval(ticker);
      warning = false;
      if (dialog.open) dialog.close();
      timer = setTimeout(warn, wait);
    } else if (warning) {
      tick();
    } else {
      warn();
    }
  };

  const endIn = (secondsLeft) => {
    const time = Date.now() + secondsLeft * 1000;
    tellOtherTabs(ENDS_AT, time);
    endAt(time);
  };

  const staySignedIn = async () => {
    let secondsLeft = 0;
    try {
      const answer = await fetch(dialog.dataset.refresh, { credentials: "same-origin" });
      if (answer.ok) secondsLeft = (await answer.json()).seconds_left;
    } catch {
      // Offline, or an answer that is not the session's (a sign-in page): not kept signed in.
    }
    if (ended) return; // said to have ended meanwhile (signed out in another tab, say): that stands
    if (secondsLeft > 0) {
      endIn(secondsLeft);
    } else {
      clearInterval(ticker);
      warning = false;
      say(dialog.dataset.failed);
      signIn.hidden = false; // the way back in, if the session has in fact ended
      if (!dialog.open) dialog.showModal(); // closed by Esc all the same: the failure must be seen
    }
  };

  // A form on the page that holds what was typed, among those that keep it when they arrive after the
  // session ended (their signed "owner" field): a field changed since the page was shown, or, on the page
  // that answered a sending (its address has "send="; refused, say), any field filled in, since the form
  // came back with what was typed. The form itself, not the sign-in page, carries it to the server.
  const typedForm = () => {
    const answered = new URLSearchParams(window.location.search).has("send");
    const typedInto = (field) => {
      if (field.type === "checkbox" || field.type === "radio") {
        return field.checked !== field.defaultChecked || (answered && field.checked);
      }
      if (field.tagName === "SELECT") {
        const options = [...field.options];
        const chosen = (option) => option.selected && option.value && (answered || !option.defaultSelected);
        return options.some(chosen) || options.some((option) => option.defaultSelected && !option.selected);
      }
      if (field.type === "hidden" || !("defaultValue" in field)) return false;
      return field.value !== field.defaultValue || (answered && field.value.trim() !== "");
    };
    return [...document.querySelectorAll("form")].find(
      (form) => form.elements.namedItem("owner") && [...form.elements].some(typedInto),
    );
  };

  // "Sign in again" from a page typed into would leave what was typed behind. The form is sent instead,
  // once the server confirms the session has ended (so that nothing is performed): it keeps what was typed
  // (as a draft, on the intake) and asks to sign in, then shows it again. Still signed in after all, the
  // page counts on; the server not answering, the link goes to the sign-in page as it says.
  const signInKeepingTypedWork = async (event) => {
    const form = typedForm();
    if (!form) return;
    event.preventDefault();
    let secondsLeft = null;
    try {
      const answer = await fetch(dialog.dataset.refresh, { credentials: "same-origin" });
      if (answer.ok) secondsLeft = (await answer.json()).seconds_left;
    } catch {
      // Offline, or an answer that is not the session's: no telling whether the session ended.
    }
    if (secondsLeft === 0) {
      HTMLFormElement.prototype.submit.call(form);
    } else if (secondsLeft > 0) {
      ended = false;
      title.textContent = saidTitle;
      stay.hidden = false;
      signIn.hidden = true;
      close.hidden = true;
      endIn(secondsLeft);
    } else {
      window.location.assign(signIn.href);
    }
  };

  stay.addEventListener("click", staySignedIn);
  signIn.addEventListener("click", signInKeepingTypedWork);
  close.addEventListener("click", () => dialog.close());
  // Esc is the keyboard's way to dismiss a dialog. Dismissing this one must not leave the session to
  // end unsaid: Esc stays signed in, as the button does, and the dialog closes only once that is done.
  // Once the session has ended, Esc closes it, as its Close button does, back to what was typed.
  dialog.addEventListener("cancel", (event) => {
    if (ended) return;
    event.preventDefault();
    staySignedIn();
  });

  // What another tab learnt. Once this one has said the session ended, that stands, even if another tab
  // signs in again: this page belongs to the session that ended, and "Sign in again" comes back to it.
  window.addEventListener("storage", (event) => {
    if (ended || event.newValue === null) return;
    if (event.key === SIGNED_OUT_AT) signedOut(dialog.dataset.signedOut);
    else if (event.key === ENDS_AT) endAt(Number(event.newValue));
  });
  if (signOut) signOut.addEventListener("submit", () => tellOtherTabs(SIGNED_OUT_AT, Date.now()));

  endIn(Number(dialog.dataset.secondsLeft));
})();
