// A searchable multi-select made from a <select multiple data-multiselect>: a text box
// that filters the options as one types (a combobox with a list box, ARIA 1.2), the
// chosen values as buttons that remove them, and the keyboard alone enough for all:
//   type        filter (any part of a name or code, accents and case ignored)
//   Down / Up   open the list, move through the matches
//   Enter       add (or remove) the highlighted match
//   Escape      close the list (again: clear the text)
//   Backspace   in an empty box: remove the last chosen value
// The <select> stays in the form (hidden) and is what is sent: without this script the
// form shows it as it is.
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

  var counter = 0;

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function enhance(select) {
    if (select.dataset.multiselectWired) {
      return;
    }
    select.dataset.multiselectWired = "1";
    counter += 1;
    var base = (select.id || "multiselect") + "-ms" + counter;
    var label = document.querySelector("label[for='" + select.id + "']");
    var name = label ? label.textContent.trim() : select.name;
    var hint = document.getElementById(select.id + "-hint");
    var field = select.closest(".field") || select.parentNode;

    var box = document.createElement("div");
    box.className = "ms";
    var chosen = document.createElement("ul");
    chosen.className = "ms-chosen";
    chosen.setAttribute("aria-label", t("Chosen {name}", {name: name.toLowerCase()}));
    var input = document.createElement("input");
    input.type = "text";
    input.id = base + "-input";
    input.className = "ms-input";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", base + "-list");
    var described = [];
    if (hint) { described.push(hint.id); }
    if (select.getAttribute("aria-describedby")) {
      select.getAttribute("aria-describedby").split(/\s+/).forEach(function (id) {
        if (id && described.indexOf(id) < 0) { described.push(id); }
      });
    }
    if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); }
    if (select.getAttribute("aria-invalid")) { input.setAttribute("aria-invalid", "true"); }
    var list = document.createElement("ul");
    list.id = base + "-list";
    list.className = "ms-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-multiselectable", "true");
    list.setAttribute("aria-label", name);
    list.hidden = true;
    var live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    var wrap = document.createElement("div");
    wrap.className = "ms-box";
    wrap.append(input, list);
    box.append(chosen, wrap, live);
    select.insertAdjacentElement("afterend", box);
    select.hidden = true;
    if (label) { label.htmlFor = input.id; }
    if (hint && select.dataset.multiselectHint) { hint.textContent = select.dataset.multiselectHint; }

    var options = Array.prototype.map.call(select.options, function (option, i) {
      return { option: option, id: base + "-opt-" + i, label: option.textContent.trim(),
               key: fold(option.textContent + " " + option.value) };
    });
    var shown = [];
    var active = -1;

    function say(text) {
      live.textContent = text;
    }

    function renderChosen() {
      chosen.replaceChildren();
      options.forEach(function (item) {
        if (!item.option.selected) { return; }
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "ms-remove";
        button.setAttribute("aria-label", t("Remove {name}", {name: item.label}));
        button.append(document.createTextNode(item.label + " "));
        var cross = document.createElement("span");
        cross.setAttribute("aria-hidden", "true");
        cross.textContent = "×";
        button.append(cross);
        button.addEventListener("click", function () {
          toggle(item);
          input.focus();
        });
        li.append(button);
        chosen.append(li);
      });
      chosen.hidden = !chosen.children.length;
    }

    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.children;
      if (active >= 0 && items[active]) { items[active].classList.remove("ms-active"); }
      active = index;
      if (active >= 0 && items[active]) {
        items[active].classList.add("ms-active");
        input.setAttribute("aria-activedescendant", items[active].id);
        items[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function filter() {
      var query = fold(input.value.trim());
      shown = options.filter(function (item) {
        return !query || item.key.indexOf(query) >= 0;
      });
      list.replaceChildren();
      shown.forEach(function (item) {
        var li = document.createElement("li");
        li.id = item.id;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", item.option.selected ? "true" : "false");
        li.textContent = item.label;
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // the focus stays in the text box
          toggle(item);
        });
        list.append(li);
      });
      if (!shown.length) {
        var none = document.createElement("li");
        none.className = "ms-none";
        none.setAttribute("role", "option");
        none.setAttribute("aria-disabled", "true");
        none.setAttribute("aria-selected", "false");
        none.id = base + "-none";
        none.textContent = t("No match");
        list.append(none);
      }
      active = -1;
      highlight(shown.length && query ? 0 : -1);
    }

    function toggle(item) {
      item.option.selected = !item.option.selected;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      renderChosen();
      var count = select.selectedOptions.length;
      say(t(item.option.selected ? "{name} added; {count} chosen." : "{name} removed; {count} chosen.",
            {name: item.label, count: count}));
      input.value = "";
      close();
    }

    input.addEventListener("input", function () {
      filter();
      open();
    });
    input.addEventListener("keydown", function (event) {
      var key = event.key;
      if (key === "ArrowDown" || key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) {
          filter();
          open();
        }
        if (!shown.length) { return; }
        var step = key === "ArrowDown" ? 1 : -1;
        var next = active < 0 ? (step > 0 ? 0 : shown.length - 1)
          : (active + step + shown.length) % shown.length;
        highlight(next);
      } else if (key === "Enter") {
        if (!list.hidden) {
          event.preventDefault(); // choosing, not sending the form
          if (active >= 0 && shown[active]) { toggle(shown[active]); }
        } else if (input.value.trim()) {
          event.preventDefault();
        }
      } else if (key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
        }
      } else if (key === "Backspace" && !input.value) {
        var last = select.selectedOptions[select.selectedOptions.length - 1];
        if (last) {
          var item = options.filter(function (o) { return o.option === last; })[0];
          if (item) { toggle(item); }
        }
      } else if (key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () {
      close();
    });
    select.addEventListener("change", function () {
      renderChosen();
    });
    renderChosen();
  }

  document.querySelectorAll("select[multiple][data-multiselect]").forEach(enhance);
})();
