/* flask-helpdesk ticket page: Conversation / History tabs and keyboard shortcuts.
   Without JavaScript both panels are shown one after the other. */
(function () {
  "use strict";
  var tablist = document.querySelector("[data-hd-tabs]");
  if (tablist) {
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll("[role=tab]"));
    var select = function (tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
      });
      if (focus) { tab.focus(); }
    };
    tabs.forEach(function (tab, i) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (e) {
        if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          var next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
          select(next, true); e.preventDefault();
        }
      });
    });
    tablist.hidden = false;
    select(window.location.hash === "#history" ? tabs[1] : tabs[0], false);
  }

  // r: reply, n: note (when not typing already).
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (e.altKey || e.ctrlKey || e.metaKey || tag === "input" || tag === "textarea" || tag === "select" || e.target.isContentEditable) { return; }
    var target = document.querySelector("[data-hd-key='" + e.key + "']");
    if (target && (e.key === "r" || e.key === "n")) {
      if (tablist) { tablist.querySelector("#tab-conversation").click(); }
      target.focus(); target.scrollIntoView({block: "center"}); e.preventDefault();
    }
  });
})();
