// The upload form's file, sent ahead of the form: drag and drop or choose, a progress bar
// for the transfer, and the title, year and language the file gives filled in. The form
// works without this file (it then sends the file with the metadata).
//
// The file goes to POST data-upload-url as soon as it is chosen or dropped; the answer
// names a pending upload, whose id travels in the form's hidden `pending` field (the
// file input is emptied so that the form does not send the file twice). A refusal
// (type, size, empty file) is shown next to the field, and nothing else is lost.
(function () {
  "use strict";

  // The page's language: its messages (base.html's #kb-messages, English text as keys).
  var said = (function () {
    var block = document.getElementById("kb-messages");
    try { return block ? JSON.parse(block.textContent) : {}; } catch (e) { return {}; }
  }());
  function t(text, values) {
    var out = said[text] || text;
    Object.keys(values || {}).forEach(function (k) { out = out.split("{" + k + "}").join(values[k]); });
    return out;
  }

  var zone = document.querySelector("[data-upload-zone]");
  if (!zone || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var form = zone.closest("form");
  var input = zone.querySelector("input[type=file]");
  var pendingField = form.querySelector("[data-upload-pending]");
  var csrf = form.querySelector("input[name=csrf_token]");
  var bar = zone.querySelector("progress");
  var progress = zone.querySelector("[data-upload-progress]");
  var percent = zone.querySelector("[data-upload-percent]");
  var kept = zone.querySelector("[data-upload-kept]");
  var error = zone.querySelector("[data-upload-error]");
  var submit = form.querySelector("button[type=submit]");
  var url = zone.getAttribute("data-upload-url");
  var maxBytes = parseInt(zone.getAttribute("data-max-bytes"), 10) || 0;
  var maxMb = zone.getAttribute("data-max-mb");
  var hintId = input.id + "-hint";
  // The values this script filled in: replaced by the next file's, unless the user
  // changed them meanwhile.
  var filled = {};
  var sending = null;

  zone.classList.add("upload-enhanced");

  function setProgress(value) {
    var rounded = Math.max(0, Math.min(100, Math.round(value)));
    bar.value = rounded;
    percent.textContent = rounded + " %";
  }

  function showError(message, link) {
    error.replaceChildren(document.createTextNode(message));
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = t("Open it");
      error.append(" ", a, ".");
    }
    error.hidden = false;
    zone.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", hintId + " " + error.id);
  }

  function clearError() {
    error.hidden = true;
    error.replaceChildren();
    zone.classList.remove("invalid");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", hintId);
  }

  function formatSize(size) {
    if (size < 1024) {
      return size + (size === 1 ? " byte" : " " + t("bytes"));
    }
    var value = size / 1024;
    var units = [t("KB"), t("MB"), t("GB")];
    var lang = document.documentElement.lang || "en";
    for (var i = 0; i < units.length; i++) {
      if (value < 1024 || i === units.length - 1) {
        return value.toLocaleString(lang, {minimumFractionDigits: 1, maximumFractionDigits: 1}) +
          " " + units[i];
      }
      value /= 1024;
    }
    return "";
  }

  function fill(name, value) {
    var field = form.elements[name];
    if (!field || !value) {
      return false;
    }
    var current = field.value.trim();
    if (current && current !== filled[name]) {
      return false; // the user's own value wins
    }
    if (field.tagName === "SELECT" &&
        !Array.prototype.some.call(field.options, function (o) { return o.value === value; })) {
      return false;
    }
    field.value = value;
    filled[name] = value;
    field.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function keep(answer) {
    pendingField.value = answer.id;
    input.value = ""; // kept on the server: the form sends its id, not the file again
    var done = [];
    if (fill("title", answer.title)) { done.push("title"); }
    if (fill("year", answer.year)) { done.push("year"); }
    if (fill("language", answer.language)) { done.push("language"); }
    var parts = [document.createTextNode(t("Kept:") + " "), document.createElement("strong"),
                 document.createTextNode(" (" + answer.size_label + ", " + answer.kind + ").")];
    parts[1].textContent = answer.filename;
    if (done.length) {
      var fields = done.map(function (name) { return t(name); }).join(", ")
        .replace(/, ([^,]*)$/, t(" and ") + "$1");
      parts.push(document.createTextNode(" " + t("Its {fields} filled in from the file: check them.",
                                                 {fields: fields})));
    }
    [answer.warning, answer.notice].forEach(function (text) {
      if (text) { parts.push(document.createTextNode(" " + text)); }
    });
    kept.replaceChildren.apply(kept, parts);
  }

  function failed(status, answer) {
    var fields = (answer && answer.fields) || {};
    var message = fields.file || (answer && answer.error) ||
      (status === 413 ? t("The file is larger than the limit of {limit} MB.", {limit: maxMb}) :
        t("The file could not be sent (the server answered {status}); try again.", {status: status}));
    showError(message, answer && answer.url);
  }

  function send(file) {
    if (sending) {
      sending.abort();
    }
    clearError();
    kept.replaceChildren();
    pendingField.value = "";
    if (file.size === 0) {
      showError(t("The file is empty."));
      return;
    }
    if (maxBytes && file.size > maxBytes) {
      showError(t("The file is {size}, larger than the limit of {limit} MB.",
                  {size: formatSize(file.size), limit: maxMb}));
      return;
    }
    var data = new FormData();
    data.append("csrf_token", csrf.value);
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    sending = xhr;
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrf.value);
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable && event.total) {
        setProgress(event.loaded / event.total * 100);
      }
    });
    xhr.addEventListener("load", function () {
      sending = null;
      submit.disabled = false;
      var answer = xhr.response;
      if (xhr.status === 201 && answer && answer.id) {
        setProgress(100);
        progress.classList.add("upload-done");
        keep(answer);
      } else {
        progress.hidden = true;
        kept.replaceChildren();
        input.value = ""; // refused: the form must not send it again
        failed(xhr.status, answer);
      }
    });
    xhr.addEventListener("error", function () {
      sending = null;
      submit.disabled = false;
      progress.hidden = true;
      kept.replaceChildren();
      showError(t("The connection failed while sending the file; choose it again to retry."));
    });
    setProgress(0);
    progress.classList.remove("upload-done");
    progress.hidden = false;
    kept.textContent = t("Sending {name} ({size})…", {name: file.name, size: formatSize(file.size)});
    submit.disabled = true; // until the file is kept
    xhr.send(data);
  }

  input.addEventListener("change", function () {
    if (input.files && input.files.length) {
      send(input.files[0]);
    }
  });

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("upload-over");
    });
  });
  zone.addEventListener("dragleave", function (event) {
    if (!zone.contains(event.relatedTarget)) {
      zone.classList.remove("upload-over");
    }
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("upload-over");
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) {
      send(files[0]);
    }
  });
})();
