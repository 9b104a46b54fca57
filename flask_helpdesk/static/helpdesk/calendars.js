/* flask-helpdesk calendar form: period and holiday rows added and removed in place.
   Progressive enhancement: without JavaScript the "Add" and "Remove" buttons
   post the form, which comes back with the row added or removed. */
(function () {
  "use strict";

  function addRow(kind) {
    var list = document.getElementById("hd-" + kind + "-rows");
    var template = document.getElementById("hd-" + kind + "-template");
    var next = parseInt(list.getAttribute("data-next"), 10) || 0;
    /* Fresh numbers past any the server rendered: the server reads rows in number order. */
    list.setAttribute("data-next", String(next + 1));
    list.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__i__/g, String(next + 1000)));
    var row = list.lastElementChild;
    var previous = row.previousElementSibling;
    if (kind === "period" && previous) {
      /* A new period starts on the day of the one above: the second period of a split day. */
      row.querySelector("select").value = previous.querySelector("select").value;
    }
    row.querySelector("select, input").focus();
  }

  function removeRow(button) {
    var row = button.closest("[data-row]");
    var kind = row.getAttribute("data-row");
    var target = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    /* Keep the keyboard focus near where it was. */
    var focus = target ? target.querySelector("select, input") :
      document.querySelector("[data-add=" + kind + "]");
    if (focus) { focus.focus(); }
  }

  var form = document.getElementById("calendar");
  if (form) {
    form.addEventListener("click", function (e) {
      var button = e.target.closest("button");
      if (!button) { return; }
      if (button.hasAttribute("data-add")) { e.preventDefault(); addRow(button.getAttribute("data-add")); }
      else if (button.hasAttribute("data-remove")) { e.preventDefault(); removeRow(button); }
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
}());
