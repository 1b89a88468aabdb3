// Keys 0-9 choose a class; a form is sent once (a second key press while it is sent does nothing).
(function () {
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
