// Times in the reader's own zone, and the chat page's scrolling. The
// server writes every time as <time datetime="RFC 3339, UTC"> with text
// in UTC that says so: without script that text stays. With it:
//   - <time class="clock"> (a message's) shows the local hour, HH:MM;
//   - <time class="relative"> (lists) shows "now", "5 min", "3 h",
//     "yesterday", a weekday within a week, else a short date;
//   - any other <time> shows the local date and time with its zone;
//   - each has the full local date and time as its title;
//   - a chat's day separators are rebuilt by local day ("Today",
//     "Yesterday", "Monday, 2 March 2026");
//   - a form's hidden tz field gets the zone's name (the Recover form).
// window.chathookTimes(root) does it again for elements added later, and
// rebuilds the timeline's separators: scripts that add messages call it.
//
// On a chat page showing its latest messages, the page opens at the
// newest (a permalink's at its message), and scrolling to the top loads
// the older page in place (its "Older messages" link stays for no script).
(function () {
  "use strict";

  var days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  var months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
  var pad = function (n) { return (n < 10 ? "0" : "") + n; };
  var intl = function (opts) {
    try { return new Intl.DateTimeFormat(undefined, opts); } catch (e) { return null; }
  };
  var full = intl({ weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  var medium = intl({ year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  var short = intl({ month: "short", day: "numeric" });
  var shortYear = intl({ year: "numeric", month: "short", day: "numeric" });
  var say = function (f, d) { return f ? f.format(d) : d.toString(); };

  // dayStart is local midnight of d's day, for counting days apart.
  var dayStart = function (d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); };
  var daysAgo = function (d, now) { return Math.round((dayStart(now) - dayStart(d)) / 864e5); };

  var relative = function (d, now) {
    var secs = (now.getTime() - d.getTime()) / 1000;
    var ago = daysAgo(d, now);
    if (secs < 60 && secs > -60) return "now";
    if (secs < 0) return say(d.getFullYear() === now.getFullYear() ? short : shortYear, d);
    if (secs < 3600) return Math.floor(secs / 60) + " min";
    if (ago === 0) return Math.floor(secs / 3600) + " h";
    if (ago === 1) return "yesterday";
    if (ago < 7) return days[d.getDay()];
    return say(d.getFullYear() === now.getFullYear() ? short : shortYear, d);
  };

  var dayLabel = function (d, now) {
    var ago = daysAgo(d, now);
    if (ago === 0) return "Today";
    if (ago === 1) return "Yesterday";
    return days[d.getDay()] + ", " + d.getDate() + " " + months[d.getMonth()] + " " + d.getFullYear();
  };

  var parse = function (el) {
    var d = new Date(el.getAttribute("datetime"));
    return isNaN(d.getTime()) ? null : d;
  };

  var each = function (root, sel, f) {
    if (root.matches && root.matches(sel)) f(root);
    Array.prototype.forEach.call(root.querySelectorAll(sel), f);
  };

  var localize = function (el, now) {
    var d = parse(el);
    if (!d) return;
    var cls = el.classList;
    el.textContent = cls.contains("clock") ? pad(d.getHours()) + ":" + pad(d.getMinutes())
      : cls.contains("relative") ? relative(d, now) : say(medium, d);
    el.title = say(full, d);
    el.setAttribute("data-local", "");
    var link = el.parentNode;
    if (link && link.classList && link.classList.contains("time")) link.title = el.title + " · link to this message";
  };

  // separate puts a day separator before each message of the timeline
  // whose local day is not the one before it, in place of the server's.
  var separate = function (timeline, now) {
    Array.prototype.forEach.call(timeline.querySelectorAll(".day"), function (s) { s.parentNode.removeChild(s); });
    var last = "";
    Array.prototype.forEach.call(timeline.querySelectorAll(".msg"), function (msg) {
      var t = msg.querySelector("time.clock[datetime]");
      var d = t && parse(t);
      if (!d) return;
      var key = d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
      if (key === last) return;
      last = key;
      var sep = document.createElement("div");
      sep.className = "day";
      sep.setAttribute("data-local-day", key);
      sep.appendChild(document.createElement("span")).textContent = dayLabel(d, now);
      msg.parentNode.insertBefore(sep, msg);
    });
  };

  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}

  var times = function (root) {
    root = root || document;
    var now = new Date();
    each(root, "time[datetime]", function (el) { localize(el, now); });
    // The separators are laid out again only when root is in the page's
    // timeline or holds it: not for a detached fragment (live.js) or the
    // chat list.
    var timeline = document.getElementById("timeline");
    if (timeline && (root === document || root.contains(timeline) || timeline.contains(root))) separate(timeline, now);
    if (zone) {
      each(root, "input[type=hidden][name=tz]", function (f) { f.value = zone; });
      each(root, "[data-local-label]", function (l) { l.textContent = l.getAttribute("data-local-label"); });
    }
  };
  window.chathookTimes = times;
  times(document);
  // Relative times age: "now" becomes "1 min".
  setInterval(function () {
    var now = new Date();
    each(document, "time.relative[datetime]", function (el) { localize(el, now); });
  }, 30000);

  var timeline = document.getElementById("timeline");
  if (!timeline) return;
  var scroller = document.scrollingElement || document.documentElement;
  if (timeline.hasAttribute("data-at")) {
    var at = timeline.querySelector(".msg.highlight");
    if (at) at.scrollIntoView({ block: "center" });
  } else if (timeline.hasAttribute("data-latest")) {
    // The newest message and the reply box under it.
    scroller.scrollTop = scroller.scrollHeight;
  }

  // Older pages, loaded when the top is reached: the messages of the
  // Older link's page go above the first, the view kept where it was.
  var loading = false;
  var older = function () { return document.getElementById("older"); };
  var atTop = function () { return scroller.scrollTop < 200; };
  var loadOlder = function () {
    var link = older();
    if (loading || !link || !atTop() || !window.fetch || !window.DOMParser) return;
    loading = true;
    fetch(link.href, { credentials: "same-origin", redirect: "error" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var first = timeline.querySelector(".msg");
        var height = scroller.scrollHeight, top = scroller.scrollTop;
        Array.prototype.forEach.call(page.querySelectorAll("#timeline .msg"), function (msg) {
          if (document.getElementById(msg.id)) return;
          timeline.insertBefore(document.adoptNode(msg), first);
        });
        var next = page.getElementById("older");
        if (next) link.href = next.getAttribute("href");
        else link.parentNode.parentNode.removeChild(link.parentNode);
        times(timeline);
        scroller.scrollTop = top + scroller.scrollHeight - height;
        timeline.setAttribute("data-loaded-older", String(timeline.querySelectorAll(".msg").length));
      })
      .catch(function () {})
      .then(function () {
        loading = false;
        // The page still at the top (a short page, a fast hand): on.
        if (older() && atTop() && scroller.scrollHeight > scroller.clientHeight) setTimeout(loadOlder, 250);
      });
  };
  if (timeline.hasAttribute("data-latest") && !timeline.hasAttribute("data-at")) {
    window.addEventListener("scroll", loadOlder, { passive: true });
  }
})();
