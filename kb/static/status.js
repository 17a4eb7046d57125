// While a document is being processed, its page (shown so to its uploader, editors and
// admins) asks the API every few seconds whether the work is done, and reloads once when
// it is. It replaces a <meta http-equiv="refresh"> that reloaded the whole page every
// 3 s under the reader's eyes, which WCAG 2.2.1 (Timing Adjustable) rules out.
// Loaded by the page only while processing:
//   <script src=".../status.js" defer data-status-url="/api/v1/documents/7"></script>
(function () {
  "use strict";

  var EVERY_MS = 3000;
  var AT_MOST_MS = 30000;  // after errors, ask less and less often, up to this
  var script = document.currentScript;
  var url = script && script.getAttribute("data-status-url");
  var wait = EVERY_MS;
  if (!url || !window.fetch) {
    return;
  }

  function later() {
    window.setTimeout(check, wait);
  }

  function check() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          return null;  // signed out or gone meanwhile: stop asking
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (doc) {
        if (!doc) {
          return;
        }
        if (doc.status !== "processing") {
          window.location.reload();
          return;
        }
        wait = EVERY_MS;
        later();
      })
      .catch(function () {
        wait = Math.min(wait * 2, AT_MOST_MS);
        later();
      });
  }

  later();
})();
