// live.js: the chat list and the open chat follow the workspace's changes
// through one Server-Sent Events stream per tab (GET /live). Each event
// names the chats that changed ({"chats":[ids]}) or says all did
// ({"all":true}). Without script the pages reload by <noscript> refresh.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;

  var path = location.pathname;
  var chatPage = path.match(/^\/chat\/(\d+)\/messages\/$/);
  var listPage = path === "/chats/";
  if (!chatPage && !listPage) return;
  // An older page of a chat stays as it is: new messages belong to the latest.
  if (chatPage && /[?&]before=/.test(location.search)) return;
  var chatID = chatPage ? Number(chatPage[1]) : 0;

  // One fetch in flight and at most one pending: a burst of events costs
  // two fetches, not one each.
  var busy = false, again = false, stale = false;
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && stale) { stale = false; refresh(); }
  });
  var refresh = function () {
    if (busy) { again = true; return; }
    busy = true;
    var url = chatPage ? path : location.pathname + location.search;
    // A hidden tab's fetch does not mark the chat read (nobody saw it);
    // it is fetched again when the tab is shown.
    var headers = document.hidden ? { "X-Chathook-Background": "1" } : {};
    if (document.hidden && chatPage) stale = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error", headers: headers })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (chatPage) mergeMessages(doc); else replaceList(doc);
      })
      .catch(function () {}) // the next event tries again
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  };

  var times = function (root) {
    if (typeof window.chathookTimes === "function") window.chathookTimes(root);
  };

  var replaceList = function (doc) {
    var fresh = doc.getElementById("chat-list");
    var old = document.getElementById("chat-list");
    if (!fresh || !old) return; // the list page always has one
    old.replaceWith(document.importNode(fresh, true));
    times(document.getElementById("chat-list"));
  };

  var container = function (root) { return root.getElementById("messages") || root.getElementById("timeline"); };

  // mergeMessages replaces the messages this page shows that changed
  // (ticks, reply state, edits) with their fresh form and appends the new
  // ones in order. The fresh messages are put in the browser's time first,
  // as the shown ones are, so that only a message that really changed is
  // replaced: a playing voice note or an open "edited" list stays as it is.
  var mergeMessages = function (doc) {
    var box = container(document), fresh = container(doc);
    if (!box || !fresh) return;
    fresh = document.importNode(fresh, true);
    times(fresh);
    // The timeline may scroll by itself, or with the page.
    var scroller = document.scrollingElement || document.documentElement;
    var overflow = getComputedStyle(box).overflowY;
    if ((overflow === "auto" || overflow === "scroll") && box.scrollHeight > box.clientHeight) scroller = box;
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    var changed = false, added = false;
    Array.prototype.forEach.call(fresh.querySelectorAll('[id^="m-"]'), function (node) {
      var old = document.getElementById(node.id);
      if (old) {
        if (old.outerHTML !== node.outerHTML) { old.replaceWith(node); changed = true; }
        return;
      }
      var empty = box.querySelector(".empty");
      if (empty) empty.remove();
      insert(box, node);
      changed = added = true;
    });
    if (changed) times(box); // once: it also lays out the day separators again
    if (added && atBottom) scroller.scrollTop = scroller.scrollHeight;
  };

  // insert puts node after the last message or day of box, before any
  // pager at its end.
  var insert = function (box, node) {
    var items = box.querySelectorAll('[id^="m-"], .day');
    var last = items[items.length - 1];
    if (last) last.after(node); else box.appendChild(node);
  };

  var open = function () {
    var es = new EventSource("/live");
    es.onmessage = function (e) {
      var change;
      try { change = JSON.parse(e.data); } catch (err) { return; }
      if (chatPage && document.getElementById("newer")) return; // not the latest page
      if (listPage || change.all || (change.chats || []).indexOf(chatID) >= 0) refresh();
    };
    es.onerror = function () {
      // EventSource retries by itself after a drop; it gives up only when
      // refused (signed out, too many tabs): then try again in a while.
      if (es.readyState === EventSource.CLOSED) setTimeout(open, 30000);
    };
  };
  open();
})();
