// chathook's only script. The pages work without it; it keeps the
// activity log and a pairing's QR code fresh, asks before discarding
// what waited or disconnecting an account, and copies a Cloud API
// number's callback URL and verify token.
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

  // Follow a pairing: every data-every milliseconds fetch its state (a
  // rotated QR code, the pairing code, connected or failed) and show it
  // when it changed, until it is no longer waiting. Replacing only a
  // changed state keeps the QR image from reloading every time.
  var pairing = document.getElementById("pairing");
  if (pairing && window.fetch) {
    var pairingEvery = parseInt(pairing.getAttribute("data-every"), 10) || 2000;
    var shown = pairing.innerHTML;
    var waiting = function () {
      var st = pairing.querySelector("[data-state]");
      return st && st.getAttribute("data-state") === "waiting";
    };
    var pairingBusy = false;
    var timer = setInterval(function () {
      if (!waiting()) { clearInterval(timer); return; }
      if (pairingBusy) return;
      pairingBusy = true;
      fetch(pairing.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store", redirect: "error" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          if (html !== shown) {
            pairing.innerHTML = html; // rendered and escaped by the server's templates
            shown = html;
          }
          pairing.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () {})
        .then(function () { pairingBusy = false; });
    }, pairingEvery);
  }

  // Forms with data-confirm ask before they are sent (Disconnect).
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // Read-only fields (a callback URL, a verify token) are selected whole
  // when focused, ready to copy by hand. A Copy button, hidden without
  // script, copies its field to the clipboard, where the browser allows
  // it, and selects it as well.
  Array.prototype.forEach.call(document.querySelectorAll("input[readonly]"), function (f) {
    f.addEventListener("focus", function () { f.select(); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
    var field = document.getElementById(b.getAttribute("data-copy"));
    if (!field) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      field.focus();
      field.select();
      var copied = function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 2000);
      };
      var byCommand = function () {
        try { if (document.execCommand("copy")) copied(); } catch (e) {}
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(copied, byCommand);
      } else {
        byCommand();
      }
    });
  });

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
