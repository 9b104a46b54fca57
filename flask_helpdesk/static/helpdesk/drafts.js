/* flask-helpdesk ticket page: server-side drafts of the reply and note boxes.

   Every <form data-hd-draft="URL"> is saved to URL (POST, form fields, CSRF
   token included) about 1.5 s after typing stops, and once more when the page
   is hidden or left (navigator.sendBeacon), unless the form is being sent.
   Saved: text, html, seen_event_id and, when the form has them, status and
   template_id; never files. One save at a time, so an older text can never
   overwrite a newer one. The server fills the boxes from the draft when the
   page loads (the rich editor starts from the form's "html" input), so
   nothing here restores anything.

   Status texts come from the form's data attributes (translated):
   data-hd-draft-saving, -saved, -failed ("%(error)s" is the server's
   message) and -offline; they are shown in [data-hd-draft-status].
   data-hd-draft-dirty (a form shown again after an error) saves at once. */
(function () {
  "use strict";
  var DELAY = 1500;
  var FIELDS = ["text", "html", "status", "template_id", "seen_event_id"];

  function setup(form) {
    var url = form.dataset.hdDraft, statusEl = form.querySelector("[data-hd-draft-status]");
    var timer = null, inFlight = false, again = false, submitting = false, saved = null;

    function field(name) { return form.querySelector("[name='" + name + "']"); }
    function values() {
      var out = {};
      FIELDS.forEach(function (name) { var el = field(name); if (el) { out[name] = el.value; } });
      return out;
    }
    function key(v) { return JSON.stringify(v); }
    function body(v) {
      var data = new FormData();
      data.append("csrf_token", field("csrf_token").value);
      Object.keys(v).forEach(function (name) { data.append(name, v[name]); });
      return data;
    }
    function show(text) { if (statusEl) { statusEl.textContent = text; } }

    function save() {
      clearTimeout(timer);
      if (submitting) { return; }
      if (inFlight) { again = true; return; }
      var v = values(), k = key(v);
      if (k === saved) { return; }
      inFlight = true;
      show(form.dataset.hdDraftSaving || "");
      fetch(url, {method: "POST", body: body(v), credentials: "same-origin", keepalive: true,
                  headers: {"Accept": "application/json"}})
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (answer) {
            if (response.ok) {
              saved = k;
              show(form.dataset.hdDraftSaved || "");
            } else {
              show((form.dataset.hdDraftFailed || "%(error)s").replace("%(error)s",
                answer.error || response.statusText));
            }
          });
        }, function () { show(form.dataset.hdDraftOffline || ""); })
        .then(function () {
          inFlight = false;
          if (again) { again = false; schedule(); }
        });
    }
    function schedule() {
      submitting = false;  // typing again after a send that did not leave the page
      clearTimeout(timer);
      timer = setTimeout(save, DELAY);
    }
    function flush() {  // the page goes away: no answer will be read
      clearTimeout(timer);
      var v = values(), k = key(v);
      if (submitting || k === saved) { return; }
      if (navigator.sendBeacon && navigator.sendBeacon(url, body(v))) { saved = k; }
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("hd:template-inserted", schedule);  // the picker set template_id
    form.addEventListener("submit", function () { clearTimeout(timer); submitting = true; });
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { flush(); }
    });
    // After the editors are mounted (they normalize the text), remember what
    // the server already has; a form shown again after an error saves at once.
    var start = function () {
      saved = form.hasAttribute("data-hd-draft-dirty") ? null : key(values());
      if (saved === null) { schedule(); }
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }

  document.querySelectorAll("form[data-hd-draft]").forEach(setup);
})();
