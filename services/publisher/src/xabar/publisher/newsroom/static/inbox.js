// Inbox: new tips appear without a reload. The list (page 1) names its updates URL and the
// newest time it shows; every few seconds this asks for what came since and puts it on top.
// Without JavaScript the page is the same list; a reload shows new tips.
(function () {
  "use strict";
  var list = document.getElementById("inbox-rows");
  if (!list || !list.dataset.updates || !window.fetch) {
    return;
  }
  var live = document.getElementById("inbox-live");
  var newest = list.dataset.newest || "0";
  var every = 3000;
  function ask() {
    var url = list.dataset.updates + (list.dataset.updates.indexOf("?") < 0 ? "?" : "&");
    fetch(url + "after=" + encodeURIComponent(newest), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (resp) {
        return resp.ok ? resp.json() : null;
      })
      .then(function (data) {
        if (data) {
          newest = String(data.newest);
        }
        if (data && data.count > 0) {
          var box = document.createElement("ul");
          box.innerHTML = data.html;
          var added = 0;
          Array.prototype.slice.call(box.children).reverse().forEach(function (row) {
            if (!list.querySelector('[data-id="' + CSS.escape(row.dataset.id) + '"]')) {
              list.insertBefore(row, list.firstChild);
              added += 1;
            }
          });
          var empty = document.getElementById("inbox-empty");
          if (empty) {
            empty.remove();
          }
          if (live && added) {
            live.textContent = "Новых сообщений: " + added;
          }
        }
      })
      .catch(function () {})
      .then(function () {
        window.setTimeout(ask, every);
      });
  }
  window.setTimeout(ask, every);
})();
