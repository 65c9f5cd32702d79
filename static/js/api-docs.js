// Swagger UI leaves the request body it offers to edit without a label, and its scrolling examples out of
// the Tab order; each is mended as Swagger UI draws it.
new MutationObserver(() => {
  for (const body of document.querySelectorAll("textarea.body-param__text:not([aria-label])")) {
    body.setAttribute("aria-label", "Request body (JSON)");
  }
  for (const example of document.querySelectorAll("pre.microlight:not([tabindex])")) {
    example.tabIndex = 0;
  }
}).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
