/* The reply template picker of the ticket page (plain JavaScript, no framework).
 *
 * Markup: helpdesk/_template_picker.html, inside form#hd-reply-form with
 * textarea#hd-reply-text. "Templates" or Alt+T opens the picker; typing
 * searches; ArrowUp/ArrowDown move, Enter (or a click) inserts the filled-in
 * text at the cursor, Escape closes. Inserting sets the hidden template_id
 * field and first offers the template to a rich-text editor: a cancelable
 * "hd:template-inserted" event ({text, html, template}) on the textarea.
 * When no editor cancels it, the text goes into the textarea and "input" is
 * dispatched. The form then gets "hd:template-inserted" (detail: the template).
 */
(function () {
  "use strict";

  function setup(root) {
    var form = root.closest("form") || document.getElementById("hd-reply-form");
    var textarea = document.getElementById("hd-reply-text") ||
      (form && form.querySelector("textarea[name=text]"));
    var hidden = root.querySelector("input[name=template_id]");
    var opener = root.querySelector(".hd-template-picker-open");
    var popup = root.querySelector(".hd-template-popup");
    var search = root.querySelector(".hd-template-search");
    var list = root.querySelector(".hd-template-options");
    var status = root.querySelector(".hd-template-status");
    var chosen = root.querySelector(".hd-template-chosen");
    var willAlso = root.querySelector(".hd-template-will-also");
    var items = [];
    var active = -1;
    var timer = null;
    var request = 0;

    function isOpen() { return !popup.hidden; }

    function open() {
      popup.hidden = false;
      opener.setAttribute("aria-expanded", "true");
      search.setAttribute("aria-expanded", "true");
      search.focus();
      load();
    }

    function close(refocus) {
      popup.hidden = true;
      opener.setAttribute("aria-expanded", "false");
      search.setAttribute("aria-expanded", "false");
      if (refocus && textarea) { textarea.focus(); }
    }

    function load() {
      var mine = ++request;
      var url = root.getAttribute("data-url") + "?q=" + encodeURIComponent(search.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (mine !== request) { return; }
          if (data.error) { throw new Error(data.error.message); }
          show(data.items || []);
        })
        .catch(function () {
          if (mine === request) { show([]); status.textContent = root.getAttribute("data-failed"); }
        });
    }

    function show(found) {
      items = found;
      list.textContent = "";
      items.forEach(function (item, index) {
        var li = document.createElement("li");
        li.id = list.id + "-" + item.id;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.className = "hd-template-option";
        var name = document.createElement("strong");
        name.textContent = item.name;
        li.appendChild(name);
        if (item.folder) {
          var folder = document.createElement("span");
          folder.className = "hd-meta";
          folder.textContent = " " + item.folder;
          li.appendChild(folder);
        }
        var preview = document.createElement("span");
        preview.className = "hd-template-preview";
        preview.textContent = item.text.slice(0, 140);
        li.appendChild(preview);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { choose(index); });
        list.appendChild(li);
      });
      status.textContent = items.length ? "" : root.getAttribute("data-empty");
      highlight(items.length ? 0 : -1);
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      active = index;
      options.forEach(function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
        li.classList.toggle("hd-active", i === index);
      });
      if (index >= 0) {
        search.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        search.removeAttribute("aria-activedescendant");
      }
    }

    function insert(item) {
      if (!textarea) { return; }
      // A rich-text editor on the textarea takes the template first (it
      // cancels the event); otherwise the plain text goes in at the cursor.
      var offer = new CustomEvent("hd:template-inserted",
        { cancelable: true, detail: { text: item.text, html: item.html, template: item } });
      if (!textarea.dispatchEvent(offer)) { return; }
      var text = item.text;
      var start = textarea.selectionStart || 0;
      var end = textarea.selectionEnd || start;
      var before = textarea.value.slice(0, start);
      var after = textarea.value.slice(end);
      textarea.value = before + text + after;
      var cursor = start + text.length;
      textarea.setSelectionRange(cursor, cursor);
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      close(true);
      insert(item);
      hidden.value = String(item.id);
      chosen.textContent = root.getAttribute("data-chosen").replace("%(name)s", item.name);
      chosen.hidden = false;
      var lines = [];
      if (item.will_also) { lines.push(item.will_also); }
      if (item.attachments && item.attachments.length) {
        lines.push(root.getAttribute("data-attachments")
          .replace("%(names)s", item.attachments.join(", ")));
      }
      willAlso.textContent = lines.join(" · ");
      willAlso.hidden = lines.length === 0;
      (form || root).dispatchEvent(new CustomEvent("hd:template-inserted",
        { bubbles: true, detail: item }));
    }

    opener.addEventListener("click", function () {
      if (isOpen()) { close(true); } else { open(); }
    });
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(load, 150);
    });
    search.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (items.length) { highlight((active + 1) % items.length); }
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        if (items.length) { highlight((active - 1 + items.length) % items.length); }
      } else if (e.key === "Enter") {
        e.preventDefault(); // never submit the reply from the search box
        choose(active);
      } else if (e.key === "Escape") {
        e.preventDefault();
        close(true);
      }
    });
    popup.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); close(true); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.altKey && !e.ctrlKey && !e.metaKey && (e.code === "KeyT" || e.key === "t" || e.key === "T")) {
        e.preventDefault();
        open();
      }
    });
    document.addEventListener("click", function (e) {
      if (isOpen() && !root.contains(e.target)) { close(false); }
    });
  }

  function start() {
    document.querySelectorAll("[data-hd-template-picker]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
