// Live preview for the document form: the body is posted (with the form's CSRF token) to
// /preview, which answers with the same sanitized HTML the document page shows. No build step.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  var out = document.getElementById("preview");
  if (!form || !out) return;
  var body = form.elements.body, timer = null, latest = 0;

  function refresh() {
    var mine = ++latest, data = new FormData(form);
    data.set("path", form.dataset.path || data.get("path") || "");
    fetch(form.dataset.preview, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (mine === latest) out.innerHTML = html; })
      .catch(function () { /* a failed preview must never block saving */ });
  }

  body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  refresh();
})();
