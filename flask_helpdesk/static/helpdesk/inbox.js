/* flask-helpdesk inbox: bulk selection, "Load more", keyboard, fresh counts.
   Progressive enhancement: without JavaScript every control still works
   (checkboxes post with the bulk form, "Load more" is a link to the next page). */
(function () {
  "use strict";
  var list = document.querySelector("[data-hd-list]");
  if (!list) { return; }
  var bulk = document.getElementById("hd-bulk");
  var selectAll = document.querySelector("[data-hd-select-all]");
  var countLabel = document.querySelector("[data-hd-selected]");

  function boxes() { return list.querySelectorAll("input[name=ticket_ids]"); }
  function rows() { return list.querySelectorAll("tr.hd-row"); }

  function updateSelection() {
    var n = 0;
    boxes().forEach(function (b) { if (b.checked) { n += 1; } });
    if (countLabel) { countLabel.textContent = n ? countLabel.dataset.template.replace("{n}", n) : ""; }
    if (bulk) { bulk.classList.toggle("hd-bulk-active", n > 0); }
  }

  function showActionFields() {
    var select = bulk && bulk.querySelector("[data-hd-bulk-action]");
    if (!select) { return; }
    bulk.querySelectorAll("[data-hd-for-action]").forEach(function (el) {
      el.hidden = el.dataset.hdForAction !== select.value;
    });
  }

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = selectAll.checked; });
      updateSelection();
    });
  }
  list.addEventListener("change", function (e) {
    if (e.target.name === "ticket_ids") { updateSelection(); }
  });
  if (bulk) {
    bulk.querySelector("[data-hd-bulk-action]").addEventListener("change", showActionFields);
    showActionFields();
  }

  // "Load more": append the next rows in place and move the link on.
  document.addEventListener("click", function (e) {
    var more = e.target.closest && e.target.closest("[data-hd-more]");
    if (!more) { return; }
    e.preventDefault();
    more.setAttribute("aria-busy", "true");
    var url = more.href + (more.href.indexOf("?") < 0 ? "?" : "&") + "partial=rows";
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var tmp = document.createElement("table");
        tmp.innerHTML = html;
        var body = tmp.querySelector("tbody");
        var target = list.querySelector("tbody");
        body.querySelectorAll("tr.hd-row").forEach(function (row) { target.appendChild(row); });
        if (body.dataset.nextUrl) { more.href = body.dataset.nextUrl; more.removeAttribute("aria-busy"); }
        else { more.remove(); }
      })
      .catch(function () { window.location.href = more.href; });
  });

  // Keyboard: j/k move between rows, x ticks, Enter opens (the link has focus), / searches.
  var current = -1;
  function focusRow(i) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r) { r.classList.remove("hd-focus"); });
    var row = all[current];
    row.classList.add("hd-focus");
    row.querySelector("a.hd-open").focus();
  }
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (e.altKey || e.ctrlKey || e.metaKey || tag === "input" || tag === "textarea" || tag === "select") { return; }
    if (e.key === "j") { focusRow(current + 1); e.preventDefault(); }
    else if (e.key === "k") { focusRow(current - 1); e.preventDefault(); }
    else if (e.key === "x" && current >= 0) {
      var box = rows()[current].querySelector("input[name=ticket_ids]");
      box.checked = !box.checked; updateSelection(); e.preventDefault();
    } else if (e.key === "/") {
      var search = document.querySelector("[data-hd-key='/']");
      if (search) { search.focus(); e.preventDefault(); }
    }
  });

  // Counts: refreshed every 30 s while the tab is visible (live pushes come from Socket.IO).
  var root = document.querySelector("[data-counts-url]");
  function refreshCounts() {
    if (document.visibilityState !== "visible" || !root) { return; }
    fetch(root.dataset.countsUrl, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        [["view", data.views], ["group", data.groups], ["tag", data.tags]].forEach(function (pair) {
          Object.keys(pair[1]).forEach(function (key) {
            var el = document.querySelector("[data-hd-count='" + pair[0] + "-" + CSS.escape(key) + "']");
            if (el) { el.textContent = pair[1][key]; }
          });
        });
      })
      .catch(function () {});
  }
  window.hdRefreshCounts = refreshCounts;
  setInterval(refreshCounts, 30000);
  updateSelection();
})();
