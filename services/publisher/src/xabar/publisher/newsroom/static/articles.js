// The article editor's enhancements (the page works without them):
// - drafts autosave: every 15 seconds, if the form changed, it is sent as JSON to
//   form[data-autosave] (CSRF token in X-CSRF-Token); the form's version follows the saved one.
//   If someone else saved meanwhile (409), autosave stops and says to save by hand, which merges.
// - the editor's photo button opens the media library (form[data-library]) and inserts the
//   chosen photo into the text;
// - on a merge with conflicts, "Взять их вариант" puts the other editor's text in the field.
(function () {
  "use strict";
  var form = document.getElementById("article-form");
  if (!form) {
    return;
  }
  var status = document.getElementById("autosave-status");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  document.querySelectorAll("[data-take]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = form.elements[button.getAttribute("data-take")];
      if (field) {
        field.value = button.getAttribute("data-value");
        field.focus();
      }
    });
  });

  function fields() {
    var data = new FormData(form);
    var out = {};
    data.forEach(function (value, key) {
      if (key === "csrf" || key === "correction_note" || typeof value !== "string") {
        return;
      }
      if (key === "countries") {
        (out.countries = out.countries || []).push(value);
      } else {
        out[key] = value;
      }
    });
    out.countries = out.countries || [];
    return out;
  }

  var url = form.getAttribute("data-autosave");
  if (url) {
    var saved = JSON.stringify(fields());
    var busy = false;
    var stopped = false;
    var timer = window.setInterval(function () {
      if (busy || stopped) {
        return;
      }
      var now = fields();
      var text = JSON.stringify(now);
      if (text === saved) {
        return;
      }
      busy = true;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": window.newsroom.csrf() },
        body: text,
      })
        .then(function (resp) {
          return resp.json().then(function (body) {
            return { status: resp.status, body: body };
          });
        })
        .then(function (answer) {
          if (answer.status === 200 && answer.body.saved) {
            form.elements.version.value = String(answer.body.version);
            now.version = String(answer.body.version);
            saved = JSON.stringify(now);
            say("Черновик сохранён в " + answer.body.at);
          } else if (answer.status === 409) {
            stopped = true;
            window.clearInterval(timer);
            say(
              "Статью сохранил кто-то ещё. Нажмите «Сохранить»: правки объединятся, ничего не потеряется."
            );
          } else if (answer.body && answer.body.errors) {
            say("Черновик не сохранён: " + answer.body.errors.join("; "));
          }
        })
        .catch(function () {
          say("Нет связи: черновик будет сохранён позже.");
        })
        .then(function () {
          busy = false;
        });
    }, 15000);
    form.addEventListener("submit", function () {
      stopped = true;
    });
  }

  var library = form.getAttribute("data-library");
  var body = form.querySelector("textarea[data-wysiwyg]");
  if (library && body) {
    body.addEventListener("wysiwyg-image", function (event) {
      event.preventDefault();
      openPicker(library, event.detail.insert);
    });
  }

  function openPicker(source, insert) {
    var dialog = document.createElement("dialog");
    dialog.className = "picker";
    dialog.setAttribute("aria-label", "Фото из медиатеки");
    var title = document.createElement("h2");
    title.textContent = "Фото из медиатеки";
    var grid = document.createElement("div");
    grid.className = "picker__grid";
    grid.textContent = "Загрузка…";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button button--quiet";
    close.textContent = "Закрыть";
    close.addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () {
      dialog.remove();
    });
    dialog.append(title, grid, close);
    document.body.appendChild(dialog);
    dialog.showModal();
    fetch(source, { credentials: "same-origin" })
      .then(function (resp) {
        return resp.json();
      })
      .then(function (found) {
        grid.textContent = "";
        if (!found.items.length) {
          grid.textContent = "В медиатеке пока нет фото.";
        }
        found.items.forEach(function (item) {
          var choose = document.createElement("button");
          choose.type = "button";
          choose.className = "picker__item";
          choose.setAttribute("aria-label", "Вставить: " + (item.alt || "фото без подписи"));
          var img = document.createElement("img");
          img.src = item.thumb;
          img.alt = "";
          choose.appendChild(img);
          choose.addEventListener("click", function () {
            insert(item.url, item.alt);
            dialog.close();
          });
          grid.appendChild(choose);
        });
      })
      .catch(function () {
        grid.textContent = "Медиатека не ответила.";
      });
  }
})();
