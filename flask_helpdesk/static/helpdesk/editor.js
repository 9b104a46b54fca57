/*
 * flask-helpdesk: rich-text replies, as progressive enhancement.
 *
 * Every <textarea data-hd-rich> becomes a Quill editor (vendor/quill) with a
 * small toolbar: bold, italic, link, bulleted and numbered lists, quote. The
 * textarea stays in the form, hidden, as the no-JavaScript fallback and keeps
 * its name: on every change and on submit the editor writes
 *   - its plain text (lists as "- " / "1. ", quotes as "> ", links as
 *     "text <url>") into the textarea, and
 *   - its HTML into a hidden input named "html" (created when the form has
 *     none; empty when the editor is empty).
 * The server sanitizes the HTML; without JavaScript only the text is sent.
 * Each change the user makes also fires an "input" event on the textarea, as
 * typing into it would.
 *
 * On load the editor starts from the form's "html" input when it has a value,
 * else from the textarea's text, so a form re-rendered after an error keeps
 * the draft.
 *
 * Templates: dispatch a cancelable CustomEvent "hd:template-inserted" with
 * detail {text, html} on the textarea. The editor inserts the HTML (or the
 * text) at the cursor, replacing any selection, and calls preventDefault();
 * when dispatchEvent() returns true no editor handled it and the caller
 * inserts the text into the textarea itself.
 *
 * The editor is named by the textarea's label (or aria-label), else by the
 * form's first heading.
 *
 * Keyboard: Tab and Shift+Tab leave the editor (no focus trap); Ctrl/Cmd+B,
 * +I and +K make bold, italic and a link; the toolbar buttons are real
 * buttons with labels. Labels can be translated with a JSON attribute:
 *   <textarea data-hd-rich data-hd-rich-labels='{"bold": "Жирный", ...}'>
 * (keys: toolbar, bold, italic, link, bullet, ordered, blockquote, linkUrl).
 *
 * Include after vendor/quill/quill.js; mounts on DOMContentLoaded. Mount
 * textareas added later with HelpdeskEditor.mount(textarea).
 */
(function () {
  "use strict";

  var LABELS = {
    toolbar: "Formatting", bold: "Bold", italic: "Italic", link: "Link",
    bullet: "Bulleted list", ordered: "Numbered list", blockquote: "Quote",
    linkUrl: "Link address"
  };
  var TOOLBAR = [["bold", "italic", "link"], [{ list: "bullet" }, { list: "ordered" }],
                 ["blockquote"]];
  var FORMATS = ["bold", "italic", "link", "list", "blockquote", "indent"];
  var passTab = { key: "Tab", handler: function () { return true; } };

  function labelsFor(textarea) {
    var labels = Object.assign({}, LABELS);
    try {
      Object.assign(labels, JSON.parse(textarea.getAttribute("data-hd-rich-labels") || "{}"));
    } catch (e) { /* keep the English labels */ }
    return labels;
  }

  function accessibleName(textarea) {
    if (textarea.getAttribute("aria-label")) { return textarea.getAttribute("aria-label"); }
    var by = textarea.getAttribute("aria-labelledby");
    if (by && document.getElementById(by)) { return document.getElementById(by).textContent.trim(); }
    if (textarea.labels && textarea.labels.length) {
      var copy = textarea.labels[0].cloneNode(true);  // without the controls it wraps
      copy.querySelectorAll("textarea, select, input, button, .hd-editor, .ql-toolbar")
        .forEach(function (node) { node.remove(); });
      return copy.textContent.trim();
    }
    return textarea.getAttribute("placeholder") || "";
  }

  var headings = 0;
  function headingOf(form) {
    var heading = form && form.querySelector("legend, h1, h2, h3, h4");
    if (heading && !heading.id) { heading.id = "hd-editor-heading-" + (++headings); }
    return heading;
  }

  /* The editor's content as plain text for the text part of an email. */
  function plainText(quill) {
    var lines = [], line = "", counters = [];
    function finish(attrs) {
      var indent = attrs.indent || 0, pad = new Array(indent + 1).join("   "), text = line;
      if (attrs.list) {
        counters.length = indent + 1;
        counters[indent] = attrs.list === "ordered" ? (counters[indent] || 0) + 1 : 0;
        text = pad + (attrs.list === "ordered" ? counters[indent] + ". " : "- ") + text;
      } else {
        counters = [];
      }
      if (attrs.blockquote) { text = "> " + text; }
      lines.push(text.replace(/\s+$/, ""));
      line = "";
    }
    quill.getContents().ops.forEach(function (op) {
      if (typeof op.insert !== "string") { return; }  // embeds carry no text
      var attrs = op.attributes || {};
      op.insert.split("\n").forEach(function (part, i) {
        if (i > 0) { finish(attrs); }
        line += attrs.link && attrs.link !== part && part ? part + " <" + attrs.link + ">" : part;
      });
    });
    if (line) { finish({}); }
    return lines.join("\n").replace(/^\n+|\s+$/g, "");
  }

  function semanticHtml(quill) {
    if (!plainText(quill)) { return ""; }
    // Quill marks every space as &nbsp; to keep runs of spaces: mail wants spaces.
    return quill.getSemanticHTML().replace(/&nbsp;/g, " ");
  }

  function htmlInput(form, textarea) {
    var input = form && form.querySelector("input[name='html']");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "html";
      textarea.insertAdjacentElement("afterend", input);
    }
    return input;
  }

  function labelToolbar(toolbar, labels) {
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", labels.toolbar);
    var names = { "ql-bold": "bold", "ql-italic": "italic", "ql-link": "link",
                  "ql-blockquote": "blockquote" };
    toolbar.querySelectorAll("button").forEach(function (button) {
      var key = button.value || names[button.classList[0]];
      if (labels[key]) {
        button.setAttribute("aria-label", labels[key]);
        button.title = labels[key];
      }
    });
  }

  function mount(textarea) {
    if (textarea.hdEditor || typeof window.Quill === "undefined") { return textarea.hdEditor; }
    var Quill = window.Quill, form = textarea.form, labels = labelsFor(textarea);
    var holder = document.createElement("div");
    holder.className = "hd-editor";
    holder.style.minHeight = (textarea.rows || 5) * 1.5 + "em";
    textarea.insertAdjacentElement("afterend", holder);
    var quill = new Quill(holder, {
      theme: "snow",
      formats: FORMATS,
      modules: {
        toolbar: TOOLBAR,
        keyboard: { bindings: { tab: passTab, indent: null, outdent: null,
                                "indent code-block": null, "outdent code-block": null,
                                "remove tab": null } }
      }
    });
    var html = htmlInput(form, textarea), lastRange = null, name = accessibleName(textarea);
    var required = textarea.required;
    textarea.required = false;  // a hidden required field would block the submit
    textarea.hidden = true;
    labelToolbar(holder.previousElementSibling, labels);
    var root = quill.root;
    root.setAttribute("role", "textbox");
    root.setAttribute("aria-multiline", "true");
    if (name) {
      root.setAttribute("aria-label", name);
    } else if (headingOf(form)) {  // no label: the form's heading names the editor
      root.setAttribute("aria-labelledby", headingOf(form).id);
    }
    if (required) { root.setAttribute("aria-required", "true"); }
    var url = holder.querySelector(".ql-tooltip input");
    if (url) { url.setAttribute("aria-label", labels.linkUrl); }
    (textarea.labels || []).forEach(function (label) {
      label.addEventListener("click", function (event) {
        if (!holder.contains(event.target) && !holder.previousElementSibling.contains(
          event.target)) { quill.focus(); }
      });
    });

    // Restore the draft: the HTML the form came back with, else its text.
    if (html.value) {
      quill.setContents(quill.clipboard.convert({ html: html.value, text: "" }), "silent");
    } else if (textarea.value) {
      quill.setText(textarea.value, "silent");
    }

    function sync() {
      textarea.value = plainText(quill);
      html.value = semanticHtml(quill);
    }
    sync();
    quill.on("text-change", function (delta, old, source) {
      sync();
      root.removeAttribute("aria-invalid");
      // Like typing into the textarea itself, for the page's other scripts
      // (who is replying, draft autosave).
      if (source === "user") { textarea.dispatchEvent(new Event("input", { bubbles: true })); }
    });
    quill.on("selection-change", function (range) { if (range) { lastRange = range; } });

    textarea.addEventListener("hd:template-inserted", function (event) {
      var detail = event.detail || {};
      var range = quill.getSelection() || lastRange ||
        { index: Math.max(quill.getLength() - 1, 0), length: 0 };
      if (range.length) { quill.deleteText(range.index, range.length, "user"); }
      quill.focus();
      if (detail.html) {
        quill.clipboard.dangerouslyPasteHTML(range.index, detail.html, "user");
      } else if (detail.text) {
        quill.insertText(range.index, detail.text, "user");
        quill.setSelection(range.index + detail.text.length, 0, "silent");
      }
      event.preventDefault();
    });

    if (form) {
      form.addEventListener("submit", function (event) {
        sync();
        if (required && !textarea.value) {
          event.preventDefault();
          root.setAttribute("aria-invalid", "true");
          quill.focus();
        }
      });
      form.addEventListener("reset", function () {
        setTimeout(function () { quill.setText("", "silent"); sync(); }, 0);
      });
    }
    textarea.hdEditor = quill;
    return quill;
  }

  function init(root) {
    (root || document).querySelectorAll("textarea[data-hd-rich]").forEach(mount);
  }

  window.HelpdeskEditor = { mount: mount, init: init, plainText: plainText };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(); });
  } else {
    init();
  }
})();
