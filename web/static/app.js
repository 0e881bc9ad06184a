// chathook's only script. The pages work without it; it keeps the
// activity log fresh and asks before discarding what waited.
(function () {
  "use strict";

  // Reload the activity log every data-every milliseconds while the tab
  // is visible. A failed fetch (offline, signed out) leaves it as it was.
  var box = document.getElementById("activity");
  if (box && window.fetch) {
    var every = parseInt(box.getAttribute("data-every"), 10) || 5000;
    var busy = false;
    setInterval(function () {
      if (document.hidden || busy) return;
      busy = true;
      fetch(box.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store", redirect: "error" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          box.innerHTML = html; // rendered and escaped by the server's templates
          box.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, every);
  }

  var form = document.getElementById("settings-form");
  var discard = document.getElementById("pending-discard");
  if (form && discard) {
    form.addEventListener("submit", function (e) {
      var on = document.getElementById("enabled");
      if (on && on.checked && discard.checked &&
          !window.confirm("Discard every waiting delivery? They will not be sent.")) {
        e.preventDefault();
      }
    });
  }
})();
