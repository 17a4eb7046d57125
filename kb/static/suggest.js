// Suggestions as you type, in a <datalist>: the forms work the same without this file.
//
// A text input opts in with attributes:
//   data-suggest-url="/api/v1/suggest"   where to ask (?q=...&limit=...); the answer's
//                                         "suggestions[].text" or "themes[]" are offered
//   data-suggest-separator=";"           optional: the input holds a list, and only the
//                                         part after the last separator is completed
// The <script> element that loads this file may also name one input by id, for pages
// whose inputs come from a shared macro:
//   <script src=".../suggest.js" defer data-suggest-for="themes"
//           data-suggest-url="/api/v1/themes" data-suggest-separator=";"></script>
(function () {
  "use strict";

  var MIN_CHARS = 2;
  var DELAY_MS = 200;
  var LIMIT = 10;
  var script = document.currentScript;

  function texts(answer) {
    if (answer && Array.isArray(answer.suggestions)) {
      return answer.suggestions.map(function (s) { return s.text; });
    }
    if (answer && Array.isArray(answer.themes)) {
      return answer.themes;
    }
    return [];
  }

  function wire(input, url, separator) {
    if (!input || !url || input.dataset.suggestWired) {
      return;
    }
    input.dataset.suggestWired = "1";
    var list = document.createElement("datalist");
    list.id = (input.id || input.name || "input") + "-suggestions";
    input.insertAdjacentElement("afterend", list);
    input.setAttribute("list", list.id);
    var timer = null;
    var pending = null;
    var lastAsked = null;

    function show(head, items) {
      list.replaceChildren.apply(list, items.map(function (text) {
        var option = document.createElement("option");
        option.value = head + text;
        return option;
      }));
    }

    function ask() {
      var value = input.value;
      var head = "";
      var term = value;
      if (separator) {
        var cut = value.lastIndexOf(separator);
        if (cut >= 0) {
          head = value.slice(0, cut + 1) + " ";
          term = value.slice(cut + 1);
        }
      }
      term = term.trim();
      if (term.length < MIN_CHARS) {
        show("", []);
        lastAsked = null;
        return;
      }
      if (term === lastAsked) {
        return;
      }
      lastAsked = term;
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      var address = url + (url.indexOf("?") < 0 ? "?" : "&") +
        "q=" + encodeURIComponent(term) + "&limit=" + LIMIT;
      fetch(address, {
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        signal: pending.signal
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        show(head, texts(answer));
      }).catch(function () {
        // Aborted by a newer keystroke, or offline: the field works without suggestions.
      });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
  }

  function start() {
    document.querySelectorAll("input[data-suggest-url]").forEach(function (input) {
      wire(input, input.dataset.suggestUrl, input.dataset.suggestSeparator || "");
    });
    if (script && script.dataset.suggestFor) {
      wire(document.getElementById(script.dataset.suggestFor),
        script.dataset.suggestUrl, script.dataset.suggestSeparator || "");
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
