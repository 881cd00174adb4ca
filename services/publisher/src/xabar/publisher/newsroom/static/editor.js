// The newsroom's rich-text editor: Quill 2 (vendored from npm, static/vendor/quill) on top of a
// plain <textarea>. Without JavaScript the textarea is an ordinary HTML field and the form works.
//
//   <link rel="stylesheet" href="{{ static('vendor/quill/quill.snow.css') }}">
//   <script src="{{ static('vendor/quill/quill.js') }}" defer></script>
//   <script src="{{ static('editor.js') }}" defer></script>
//   <label for="body">Текст</label>
//   <textarea id="body" name="body_html" data-wysiwyg>{{ article.body_html }}</textarea>
//
// The textarea is hidden and keeps the editor's HTML (Quill's semantic HTML: <p>, <h2>, <h3>,
// <strong>, <em>, <a>, <blockquote>, <ul>/<ol>, <img>) after every change and before submit; the
// server sanitizes it as it does any body. The toolbar: subheadings, bold, italic, link, quote,
// lists, photo, clear formatting, every button labelled in Russian.
//
// The photo button dispatches a cancelable "wysiwyg-image" event on the textarea, with
// detail.insert(url, alt): a page with a media library listens, lets the editor choose, calls
// insert and calls event.preventDefault(). Unhandled, it asks for a photo's address.
// textarea.wysiwyg is the Quill instance (for autosave and the like).
(function () {
  "use strict";
  if (!window.Quill) {
    return;
  }
  var TOOLBAR = [
    [{ header: 2 }, { header: 3 }],
    ["bold", "italic", "link"],
    ["blockquote", { list: "ordered" }, { list: "bullet" }],
    ["image", "clean"],
  ];
  var LABELS = {
    "ql-header:2": "Подзаголовок",
    "ql-header:3": "Малый подзаголовок",
    "ql-bold": "Жирный",
    "ql-italic": "Курсив",
    "ql-link": "Ссылка",
    "ql-blockquote": "Цитата",
    "ql-list:ordered": "Нумерованный список",
    "ql-list:bullet": "Маркированный список",
    "ql-image": "Фото",
    "ql-clean": "Убрать оформление",
  };

  function labelButtons(toolbar) {
    toolbar.querySelectorAll("button").forEach(function (button) {
      var key = button.className.split(" ")[0];
      if (button.value) {
        key += ":" + button.value;
      }
      var label = LABELS[key];
      if (label) {
        button.setAttribute("aria-label", label);
        button.setAttribute("title", label);
      }
    });
  }

  function upgrade(area) {
    var holder = document.createElement("div");
    holder.className = "wysiwyg";
    area.parentNode.insertBefore(holder, area.nextSibling);
    var quill = new window.Quill(holder, {
      theme: "snow",
      modules: { toolbar: TOOLBAR },
      placeholder: area.getAttribute("placeholder") || "",
    });
    if (area.value.trim()) {
      quill.setContents(quill.clipboard.convert({ html: area.value }), "silent");
    }
    var toolbar = holder.previousElementSibling;
    if (toolbar && toolbar.classList.contains("ql-toolbar")) {
      toolbar.setAttribute("role", "toolbar");
      toolbar.setAttribute("aria-label", "Оформление текста");
      labelButtons(toolbar);
    }
    if (area.form) {
      area.form.querySelectorAll("[data-without-js]").forEach(function (hint) {
        hint.hidden = true; // what to type without the editor: the editor is here
      });
    }
    var editable = holder.querySelector(".ql-editor");
    editable.setAttribute("role", "textbox");
    editable.setAttribute("aria-multiline", "true");
    var label = area.id && document.querySelector('label[for="' + area.id + '"]');
    if (label) {
      label.id = label.id || area.id + "-label";
      editable.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () {
        quill.focus();
      });
    }
    function sync() {
      // Quill 2.0.3's semantic HTML writes every space as &nbsp; (lines could not wrap)
      var html = quill.getSemanticHTML().replace(/&nbsp;/g, " ");
      area.value = quill.getLength() > 1 ? html : "";
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }
    quill.on("text-change", sync);
    if (area.form) {
      area.form.addEventListener("submit", sync);
    }
    quill.getModule("toolbar").addHandler("image", function () {
      var range = quill.getSelection(true);
      function insert(url, alt) {
        quill.insertEmbed(range.index, "image", url, "user");
        var node = quill.root.querySelector('img[src="' + CSS.escape(url) + '"]:not([alt])');
        if (node && alt) {
          node.setAttribute("alt", alt);
        }
        quill.setSelection(range.index + 1, 0, "silent");
      }
      var asked = new CustomEvent("wysiwyg-image", { cancelable: true, detail: { insert: insert } });
      if (area.dispatchEvent(asked)) {
        var url = window.prompt("Адрес фотографии:");
        if (url) {
          insert(url, "");
        }
      }
    });
    area.hidden = true;
    area.wysiwyg = quill;
  }

  function start() {
    document.querySelectorAll("textarea[data-wysiwyg]").forEach(upgrade);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
