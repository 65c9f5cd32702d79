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

  dialog.querySelector("button").addEventListener("click", async () => {
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
    }
  });

  warnIn(Number(dialog.dataset.secondsLeft));
})();
