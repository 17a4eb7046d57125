// The filters of a results page: a box to find a value in a long facet, and on a phone
// the filters folded behind their "Filters" button above the results. The page works
// the same without this file: "show all" is a <details>, and the filters show open.
//
// Markup it looks for (templates/search/index.html):
//   <details data-filters open>             the filters; folded here on a phone
//   <section class="facet">                 one facet, holding
//     <div data-facet-find hidden><input>   the find box (shown by this file)
//     <li data-label="Moldova">             its values, in the first list and in
//     <details data-facet-more>             "show all", opened while a value is sought
//     <p data-facet-none hidden>            said when nothing matches
(function () {
  "use strict";

  var PHONE = window.matchMedia("(max-width: 48rem)");

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().trim();
  }

  function wireFind(section) {
    var box = section.querySelector("[data-facet-find]");
    if (!box) {
      return;
    }
    var input = box.querySelector("input");
    var more = section.querySelector("[data-facet-more]");
    var none = section.querySelector("[data-facet-none]");
    var items = Array.prototype.slice.call(section.querySelectorAll("li[data-label]"));
    var openBefore = null; // whether "show all" was open before the search began
    box.hidden = false;
    input.addEventListener("input", function () {
      var wanted = fold(input.value);
      var shown = 0;
      items.forEach(function (li) {
        var match = !wanted || fold(li.getAttribute("data-label")).indexOf(wanted) !== -1;
        li.hidden = !match;
        if (match) {
          shown += 1;
        }
      });
      if (more) {
        if (wanted && openBefore === null) {
          openBefore = more.open;
          more.open = true;
        } else if (!wanted && openBefore !== null) {
          more.open = openBefore;
          openBefore = null;
        }
      }
      if (none) {
        none.hidden = shown !== 0;
      }
    });
  }

  function wireFilters(filters) {
    // Folded on a phone, so that the results come first under their "Filters" button;
    // always open on a wide screen, where the button is not shown.
    function fit() {
      filters.open = !PHONE.matches;
    }
    fit();
    if (PHONE.addEventListener) {
      PHONE.addEventListener("change", fit);
    }
  }

  function start() {
    document.querySelectorAll("section.facet").forEach(wireFind);
    var filters = document.querySelector("[data-filters]");
    if (filters) {
      wireFilters(filters);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
