// OpenJPKI pages: the only script. A form whose card operation takes a moment says so and
// cannot be sent twice; everything works without it.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const button = event.submitter || form.querySelector("button[type=submit]");
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  if (button && button.dataset.busy) {
    setTimeout(() => { button.textContent = button.dataset.busy; button.setAttribute("aria-disabled", "true"); }, 0);
  }
});
