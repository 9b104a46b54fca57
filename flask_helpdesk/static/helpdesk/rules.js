/* flask-helpdesk rule editor: rows added and removed in place, only the inputs
   that fit each choice shown, and a run's progress followed.
   Progressive enhancement: without JavaScript the "Add" and "Remove" buttons
   post the form, which comes back with the row added or removed, every input
   stays visible, and the run page reloads itself until the run ends. */
(function () {
  "use strict";

  function words(value) { return (value || "").split(/\s+/).filter(Boolean); }
  function shows(el, value) { return words(el.getAttribute("data-show")).indexOf(value) >= 0; }

  /* ---- one condition or action row ---- */
  function refreshRow(row) {
    var kind = row.getAttribute("data-row");
    var chooser = row.querySelector(kind === "condition" ? "[data-role=field]" : "[data-role=type]");
    var value = chooser ? chooser.value : "";
    row.querySelectorAll("[data-show]").forEach(function (el) { el.hidden = !shows(el, value); });
    if (kind === "condition") {
      var op = row.querySelector("[data-role=op]");
      var firstFit = null;
      Array.prototype.forEach.call(op.options, function (o) {
        var fits = words(o.getAttribute("data-fields")).indexOf(value) >= 0;
        o.hidden = !fits; o.disabled = !fits;
        if (fits && !firstFit) { firstFit = o; }
      });
      if (op.selectedOptions.length && op.selectedOptions[0].disabled && firstFit) { firstFit.selected = true; }
    } else if (value === "notify") {
      var to = row.querySelector("[data-role=notify-to]").value;
      row.querySelectorAll("[data-notify-to]").forEach(function (el) {
        el.hidden = words(el.getAttribute("data-notify-to")).indexOf(to) < 0;
      });
    } else if (value === "assign") {
      var strategy = row.querySelector("[data-role=strategy]").value;
      row.querySelectorAll("[data-strategy]").forEach(function (el) {
        el.hidden = words(el.getAttribute("data-strategy")).indexOf(strategy) < 0;
      });
    }
  }

  /* ---- the "when" ---- */
  function refreshWhen(form) {
    var checked = form.querySelector("[data-role=when]:checked");
    var type = checked ? checked.value : "";
    form.querySelectorAll("[data-when]").forEach(function (el) { el.hidden = el.getAttribute("data-when") !== type; });
    var on = form.querySelector("[data-role=on]");
    form.querySelectorAll("[data-on]").forEach(function (el) { el.hidden = el.getAttribute("data-on") !== on.value; });
    var watched = form.querySelector("[data-role=watched]").value;
    form.querySelectorAll("label[data-watched]").forEach(function (el) {
      if (on.value === "field.changed") { el.hidden = words(el.getAttribute("data-watched")).indexOf(watched) < 0; }
    });
    form.querySelectorAll("optgroup[data-watched]").forEach(function (el) {
      var fits = el.getAttribute("data-watched") === watched;
      el.hidden = !fits; el.disabled = !fits;
      if (!fits && el.parentNode.selectedOptions.length && el.parentNode.selectedOptions[0].parentNode === el) {
        el.parentNode.value = "";
      }
    });
    var business = form.querySelector("[data-role=business]");
    form.querySelectorAll("[data-business]").forEach(function (el) { el.hidden = !business.checked; });
  }

  function addRow(form, kind) {
    var list = document.getElementById("hd-" + kind + "-rows");
    var template = document.getElementById("hd-" + kind + "-template");
    var next = parseInt(list.getAttribute("data-next"), 10) || 0;
    /* Fresh numbers past any the server rendered: the server reads rows in number order. */
    list.setAttribute("data-next", String(next + 1));
    var html = template.innerHTML.replace(/__i__/g, String(next + 1000));
    list.insertAdjacentHTML("beforeend", html);
    var row = list.lastElementChild;
    refreshRow(row);
    var first = row.querySelector("select, input, textarea");
    if (first) { first.focus(); }
  }

  function removeRow(button) {
    var row = button.closest("[data-row]");
    var list = row.parentNode;
    var kind = row.getAttribute("data-row");
    var target = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    /* Keep the keyboard focus near where it was. */
    var focus = target ? target.querySelector("select, input, textarea") :
      document.querySelector("[data-add=" + kind + "]");
    if (focus) { focus.focus(); }
    return list;
  }

  var form = document.getElementById("hd-rule-form");
  if (form) {
    form.querySelectorAll("[data-row]").forEach(refreshRow);
    refreshWhen(form);
    form.addEventListener("change", function (e) {
      var row = e.target.closest("[data-row]");
      if (row) { refreshRow(row); } else { refreshWhen(form); }
    });
    form.addEventListener("click", function (e) {
      var button = e.target.closest("button");
      if (!button) { return; }
      if (button.hasAttribute("data-add")) { e.preventDefault(); addRow(form, button.getAttribute("data-add")); }
      else if (button.hasAttribute("data-remove")) { e.preventDefault(); removeRow(button); }
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });

  /* ---- a run's progress ---- */
  var run = document.getElementById("hd-rule-run");
  if (run && ["queued", "running"].indexOf(run.getAttribute("data-state")) >= 0) {
    var labels = JSON.parse(run.getAttribute("data-text"));
    var bar = document.getElementById("hd-run-progress");
    var poll = function () {
      fetch(run.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          ["done", "total", "touched", "skipped", "failed"].forEach(function (key) {
            run.querySelector("[data-field=" + key + "]").textContent = String(data[key]);
          });
          var state = run.querySelector("[data-field=state]");
          if (state.textContent !== labels[data.state]) { state.textContent = labels[data.state] || data.state; }
          var error = run.querySelector("[data-field=error]");
          error.textContent = data.error || ""; error.hidden = !data.error;
          var finished = data.state === "done" || data.state === "failed";
          bar.max = data.total || 1;
          bar.value = data.total ? data.done : (finished ? 1 : 0);
          run.setAttribute("data-state", data.state);
          if (!finished) { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }
}());
