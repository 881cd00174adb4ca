// The newsroom's own script: it only enhances pages that work without it.
// - <form data-confirm="Вопрос?">: asks before sending.
// - window.newsroom.csrf(): the session's CSRF token, for fetch() posts (header X-CSRF-Token).
(function () {
  "use strict";
  var newsroom = (window.newsroom = window.newsroom || {});
  newsroom.csrf = function () {
    return document.body.getAttribute("data-csrf") || "";
  };
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
