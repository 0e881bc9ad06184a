// chathook's only script. The pages work without it; it keeps the
// activity log and a pairing's QR code fresh, asks before discarding
// what waited or disconnecting an account, copies a Cloud API number's
// callback URL and verify token, and sends replies from the chat page
// without a reload, following each until WhatsApp took it.
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

  // Replies, on a chat page: Enter sends, Shift+Enter starts a new line.
  // A reply is posted for JSON and shown at once as "sending…", then
  // followed until it is sent or failed; one the server showed queued is
  // followed too. A refused reply keeps its text, with the reason beside
  // the box. On an older page of the chat the form goes as without
  // script, to land on the latest page, where the reply belongs.
  var timeline = document.getElementById("timeline");
  var reply = document.getElementById("reply");
  var replyText = document.getElementById("reply-text");
  var replyError = document.getElementById("reply-error");
  var jsonHeaders = { Accept: "application/json" };

  var setState = function (msg, status, error) {
    msg.setAttribute("data-reply", status);
    var label = msg.querySelector(".reply-state");
    if (!label) {
      label = document.createElement("p");
      msg.appendChild(label);
    }
    label.className = "reply-state " + status;
    label.textContent = status === "failed" ? "failed" + (error ? ": " + error : "") : status === "queued" ? "sending…" : status === "uncertain" ? "May have been sent" : status;
    if (status === "queued" && error) label.title = "Retrying: " + error;
    else if (status === "uncertain" && error) label.title = error;
    else label.removeAttribute("title");
  };

  // Every queued reply of the page is asked about once a second, until
  // none is queued; a 404 (gone) stops following that one, a 401
  // (signed out) all of them. Other failures are tried again.
  var following = null, polling = false;
  var stopFollowing = function () { clearInterval(following); following = null; };
  var poll = function () {
    if (polling || document.hidden) return;
    var queued = timeline.querySelectorAll('.msg[data-reply="queued"]');
    if (!queued.length) { stopFollowing(); return; }
    polling = true;
    Promise.all(Array.prototype.map.call(queued, function (msg) {
      var url = timeline.getAttribute("data-base") + encodeURIComponent(msg.id.slice(2)) + "/state"; // id "m-<uuid>"
      return fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error", headers: jsonHeaders })
        .then(function (r) {
          if (r.status === 401) stopFollowing();
          if (r.status === 404) msg.setAttribute("data-reply", "unknown");
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (st) { setState(msg, st.status, st.error); })
        .catch(function () {});
    })).then(function () { polling = false; });
  };
  var follow = function () { if (!following) following = setInterval(poll, 1000); };

  var pad = function (n) { return (n < 10 ? "0" : "") + n; };

  // append shows a reply just queued as the server would, in UTC; time.js
  // then puts it in local time and lays out the day separators.
  var append = function (id, text) {
    if (document.getElementById("m-" + id)) return;
    var empty = timeline.querySelector(".empty");
    if (empty) empty.parentNode.removeChild(empty);
    var now = new Date();
    var iso = now.toISOString().replace(/\.\d+Z$/, "Z");
    var msg = document.createElement("article");
    msg.className = "msg sent";
    msg.id = "m-" + id;
    var header = msg.appendChild(document.createElement("header"));
    var sender = header.appendChild(document.createElement("span"));
    sender.className = "sender";
    sender.textContent = reply.getAttribute("data-sender");
    var link = header.appendChild(document.createElement("a"));
    link.className = "time";
    link.href = "/permalink/" + encodeURIComponent(id) + "/";
    link.title = iso.replace("T", " ").replace("Z", " UTC") + " · link to this message";
    var time = link.appendChild(document.createElement("time"));
    time.className = "clock";
    time.setAttribute("datetime", iso);
    time.textContent = pad(now.getUTCHours()) + ":" + pad(now.getUTCMinutes());
    var p = msg.appendChild(document.createElement("p"));
    p.className = "text";
    p.textContent = text;
    setState(msg, "queued", "");
    timeline.appendChild(msg);
    if (window.chathookTimes) window.chathookTimes(msg); // local time and day (web/static/time.js)
    msg.scrollIntoView({ block: "nearest" });
  };

  var showError = function (message) {
    replyError.textContent = message;
    replyError.hidden = !message;
    if (message) replyText.setAttribute("aria-invalid", "true");
    else replyText.removeAttribute("aria-invalid");
  };

  // refusal is what to say of an answer that is not the server's JSON: an
  // error page, or a redirect to sign-in.
  var refusal = function (r) {
    if (r.type === "opaqueredirect" || r.status === 401) return "Not sent: you are signed out. Sign in again in another tab, then send.";
    if (r.status === 403) return "Not sent: this page has expired. Copy your text, reload the page and send it again.";
    if (r.status === 413) return "Not sent: the message is too long.";
    return "Not sent: something went wrong on our side (HTTP " + r.status + "). Try again.";
  };

  var sending = false;
  var send = function () {
    if (sending) return;
    sending = true;
    var text = replyText.value;
    fetch(reply.action, {
      method: "POST", body: new URLSearchParams(new FormData(reply)), credentials: "same-origin",
      redirect: "manual", headers: jsonHeaders
    })
      .then(function (r) {
        var isJSON = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        return (isJSON ? r.json() : Promise.resolve(null)).then(function (data) {
          if (r.status !== 202 || !data) {
            showError((data && data.error) || refusal(r));
            return;
          }
          if (replyText.value === text) replyText.value = ""; // unless more was typed meanwhile
          showError("");
          append(data.message_id, text);
          follow();
        });
      })
      .catch(function () { showError("Not sent: chathook could not be reached. Check your connection and try again."); })
      .then(function () { sending = false; });
  };

  if (timeline && reply && replyText && window.fetch && window.URLSearchParams && window.FormData) {
    var onLatest = !document.getElementById("newer");
    reply.addEventListener("submit", function (e) {
      if (!onLatest) return;
      e.preventDefault();
      send();
    });
    replyText.addEventListener("keydown", function (e) {
      // keyCode 229: an input method is composing; its Enter is its own.
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      if (onLatest) send();
      else if (reply.requestSubmit) reply.requestSubmit();
      else reply.submit();
    });
    // Some keyboards (and automation) deliver Enter's character apart
    // from its keydown, so cancelling that does not keep the line break
    // out: hold the character back as well.
    replyText.addEventListener("keypress", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) e.preventDefault();
    });
    document.getElementById("reply-hint").hidden = false;
  }
  if (timeline && window.fetch && timeline.querySelector('.msg[data-reply="queued"]')) follow();

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
