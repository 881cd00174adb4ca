// The media library's upload form takes a photo dropped on it (drag and drop): the file goes
// into the form's own file field and the form is sent as without JavaScript.
(function () {
  "use strict";
  var form = document.querySelector("form[data-dropzone]");
  if (!form) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var hint = form.querySelector("[data-dropzone-target]");
  if (hint) {
    hint.hidden = false;
  }
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.add("upload--over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function () {
      form.classList.remove("upload--over");
    });
  });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length || !input) {
      return;
    }
    var chosen = new DataTransfer();
    chosen.items.add(files[0]);
    input.files = chosen.files;
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  });
})();
