// Asks before a destructive form is sent. A form opts in with the question to ask:
//   <form method="post" ... data-confirm="Withdraw “Title”? It leaves search ...">
// Sending it opens a native modal <dialog> holding the question, "Cancel" (focused
// first, so Enter on a stray key press sends nothing) and a button named like the one
// pressed. Cancel or Escape closes the dialog, sends nothing and gives focus back to that
// button; the other button sends the form as it would have been sent. Without this file
// the forms are sent at once (the server never relies on the question being asked).
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

  var dialog = null;
  var question = null;
  var go = null;
  var pending = null;  // {form, submitter} while the dialog is open

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-question");
    question = document.createElement("p");
    question.id = "confirm-question";
    var actions = document.createElement("div");
    actions.className = "confirm-actions";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.textContent = t("Cancel");
    cancel.autofocus = true;
    go = document.createElement("button");
    go.type = "button";
    go.className = "danger";
    cancel.addEventListener("click", function () { dialog.close("cancel"); });
    go.addEventListener("click", function () { dialog.close("confirm"); });
    // Escape closes the dialog by itself (a "cancel" event, then "close"), leaving the
    // return value empty: the same as Cancel.
    dialog.addEventListener("close", finish);
    actions.append(cancel, go);
    dialog.append(question, actions);
    document.body.append(dialog);
  }

  function finish() {
    var sending = pending;
    pending = null;
    if (!sending) {
      return;
    }
    if (dialog.returnValue === "confirm") {
      sending.form.dataset.confirmed = "yes";
      if (sending.submitter && sending.form.requestSubmit) {
        sending.form.requestSubmit(sending.submitter);
      } else if (sending.form.requestSubmit) {
        sending.form.requestSubmit();
      } else {
        sending.form.submit();
      }
    } else if (sending.submitter) {
      sending.submitter.focus();
    }
  }

  function label(submitter) {
    var text = submitter ? submitter.textContent.replace(/\s+/g, " ").trim() : "";
    return text || "Confirm";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
      return;
    }
    if (form.dataset.confirmed === "yes") {  // asked and answered: let it go
      delete form.dataset.confirmed;
      return;
    }
    if (typeof HTMLDialogElement !== "function") {
      return;  // a browser without <dialog>: the form is sent as without this script
    }
    event.preventDefault();
    if (!dialog) {
      build();
    }
    if (dialog.open) {
      return;
    }
    pending = {form: form, submitter: event.submitter || null};
    question.textContent = form.getAttribute("data-confirm");
    go.textContent = label(event.submitter);
    dialog.returnValue = "";
    dialog.showModal();
  });
})();
