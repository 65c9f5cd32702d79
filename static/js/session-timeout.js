/* Before a signed-in session ends without activity (SESSION_IDLE_SECONDS), the page says so and offers to
   stay signed in (WCAG 2.2.1). Without JavaScript, the form pages state the limit in words. */
(() => {
  "use strict";
  const dialog = document.getElementById("session-warning");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const message = document.getElementById("session-warning-text");
  const said = message.textContent;
  let timer;

  const warnIn = (secondsLeft) => {
    clearTimeout(timer);
    const wait = Math.max(secondsLeft - Number(dialog.dataset.warnBefore), 0);
    timer = setTimeout(() => {
      message.textContent = said;
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
      message.textContent = dialog.dataset.failed;
      if (!dialog.open) dialog.showModal(); // closed by Esc all the same: the failure must be seen
    }
  };

  dialog.querySelector("button").addEventListener("click", staySignedIn);
  // Esc is the keyboard's way to dismiss a dialog. Dismissing this one must not leave the session to
  // end unsaid: Esc stays signed in, as the button does, and the dialog closes only once that is done.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    staySignedIn();
  });

  warnIn(Number(dialog.dataset.secondsLeft));
})();
