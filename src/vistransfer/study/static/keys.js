// Keys 0-9 choose a class; a form is sent once (a second key press while it is sent does nothing).
// On the pages between (instructions, practice feedback, "practice done"), Enter or Space goes on.
(function () {
  var go = document.querySelector("a[data-enter]");
  if (go) {
    go.focus();
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go.click(); }
    });
  }
  var form = document.getElementById("answer-form");
  if (!form) return;
  var sent = false;
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }
    sent = true;
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || sent) return;
    var b = form.querySelector('button[data-key="' + e.key + '"]');
    if (b) { e.preventDefault(); b.click(); }
  });
})();
