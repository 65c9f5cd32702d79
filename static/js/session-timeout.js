/* Before a signed-in session ends without activity (SESSION_IDLE_SECONDS), the page says so and offers to
   stay signed in (WCAG 2.2.1). The time left is counted down in words, and once it has run out the
   warning says the user was signed out and offers to sign in again, back to this page. Without
   JavaScript, the form pages state the limit in words. */
(() => {
  "use strict";
  const dialog = document.getElementById("session-warning");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const title = document.getElementById("session-warning-title");
  const message = document.getElementById("session-warning-text");
  const stay = dialog.querySelector("button.session-stay");
  const close = dialog.querySelector("button.session-close");
  const signIn = dialog.querySelector("a.session-sign-in");
  const warnBefore = Number(dialog.dataset.warnBefore);
  const saidTitle = title.textContent;
  let endsAt = 0;
  let ended = false;
  let timer;
  let ticker;

  // "2 minutes", "1 minute", then "less than a minute": the live region speaks only when the words change.
  const timeLeftInWords = (seconds) => {
    if (seconds <= 60) return seconds > 59 ? "1 minute" : "less than a minute";
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minutes`;
  };

  const say = (words) => {
    if (message.textContent !== words) message.textContent = words;
  };

  const signedOut = () => {
    clearInterval(ticker);
    ended = true;
    title.textContent = "You have been signed out";
    say(dialog.dataset.ended);
    stay.hidden = true;
    signIn.hidden = false;
    close.hidden = false;
    if (!dialog.open) dialog.showModal();
    signIn.focus();
  };

  const tick = () => {
    const secondsLeft = Math.round((endsAt - Date.now()) / 1000);
    if (secondsLeft <= 0) {
      signedOut();
      return;
    }
    say(`You will be signed out in ${timeLeftInWords(secondsLeft)} unless you continue.`);
  };

  const warnIn = (secondsLeft) => {
    clearTimeout(timer);
    clearInterval(ticker);
    endsAt = Date.now() + secondsLeft * 1000;
    const wait = Math.max(secondsLeft - warnBefore, 0);
    timer = setTimeout(() => {
      title.textContent = saidTitle;
      signIn.hidden = true;
      tick();
      ticker = setInterval(tick, 1000);
      if (!dialog.open) dialog.showModal(); // focuses its button
    }, wait * 1000);
  };

  const staySignedIn = async () => {
    let secondsLeft = 0;
    try {
      const answer = await fetch(dialog.dataset.refresh, { credentials: "same-origin" });
      if (answer.ok) secondsLeft = (await answer.json()).seconds_left;
    } catch {
      // Offline, or an answer that is not the session's (a sign-in page): not kept signed in.
    }
    if (secondsLeft > 0) {
      dialog.close();
      warnIn(secondsLeft);
    } else {
      clearInterval(ticker);
      say(dialog.dataset.failed);
      signIn.hidden = false; // the way back in, if the session has in fact ended
      if (!dialog.open) dialog.showModal(); // closed by Esc all the same: the failure must be seen
    }
  };

  stay.addEventListener("click", staySignedIn);
  close.addEventListener("click", () => dialog.close());
  // Esc is the keyboard's way to dismiss a dialog. Dismissing this one must not leave the session to
  // end unsaid: Esc stays signed in, as the button does, and the dialog closes only once that is done.
  // Once the session has ended, Esc closes it, as its Close button does, back to what was typed.
  dialog.addEventListener("cancel", (event) => {
    if (ended) return;
    event.preventDefault();
    staySignedIn();
  });

  warnIn(Number(dialog.dataset.secondsLeft));
})();
