// flashgrade: small enhancements; every page works without this file.
(function () {
  "use strict";

  // Practice page: Ctrl/Cmd+Enter submits, Ctrl/Cmd+. is "I don't know", the time taken goes
  // in a hidden field, a monospace toggle for code (remembered in this browser).
  function answerForm(form) {
    var started = performance.now();
    var box = form.querySelector("textarea");
    var dontKnow = form.querySelector("[data-dont-know]");
    var seconds = form.querySelector("[data-seconds]");
    var mono = form.querySelector("[data-mono]");
    var sent = false;

    if (mono && box) {
      if (!mono.checked && localStorage.getItem("flashgrade.mono") === "1") {
        mono.checked = true;
      }
      box.classList.toggle("mono", mono.checked);
      mono.addEventListener("change", function () {
        box.classList.toggle("mono", mono.checked);
        localStorage.setItem("flashgrade.mono", mono.checked ? "1" : "0");
        box.focus();
      });
    }
    var count = form.querySelector("[data-count]");
    var max = box ? Number(box.getAttribute("data-max-chars")) : 0;
    function length() {
      // characters as the server counts them (code points): an emoji is one, not two
      var n = box.value.length;
      return n < 0.9 * max ? n : Array.from(box.value).length;
    }
    function over() {
      return max > 0 && length() > max;
    }
    function showCount(blocked) {
      // shown from 90% of the limit on: most answers never see it
      if (!count || !max) return;
      var n = length();
      count.textContent = n < 0.9 * max ? "" : n.toLocaleString() + " of " + max.toLocaleString() +
        " characters" + (n > max ? ": shorten it by " + (n - max).toLocaleString() + " to check it." : ".") +
        (blocked ? " Not sent." : "");
      count.classList.toggle("over", n > max);
    }
    if (box) {
      showCount(false);
      box.addEventListener("input", function () { showCount(false); });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    }
    if (dontKnow) {
      // wherever the focus is: the answer box or a control of the page
      document.addEventListener("keydown", function (event) {
        if (event.key === "." && (event.ctrlKey || event.metaKey) && !event.altKey) {
          event.preventDefault();
          form.requestSubmit(dontKnow);
        }
      });
    }
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) { // back from the next page: the form may be sent again
        sent = false;
        form.classList.remove("busy");
      }
    });
    form.addEventListener("submit", function (event) {
      if (sent) {
        event.preventDefault(); // one attempt per click, however impatient
        return;
      }
      // "I don't know" sends no answer, so the length of what was typed does not matter
      if (box && over() && !(dontKnow && event.submitter === dontKnow)) {
        event.preventDefault(); // the server would refuse it: say so here, text kept
        showCount(true); // a changed text, so that a screen reader announces it
        box.focus();
        return;
      }
      sent = true;
      if (seconds) {
        seconds.value = ((performance.now() - started) / 1000).toFixed(1);
      }
      form.classList.add("busy");
    });
  }

  // History filter: picking a deck fills the card list with its cards from the JSON API at
  // once (without the script, Show does it).
  function historyFilter(deckSelect) {
    var form = deckSelect.form;
    var cardSelect = form.querySelector("#f-card");
    var hint = form.querySelector("#card-hint");
    var asked = 0; // only the latest pick fills the list

    function fill(cards) {
      cardSelect.textContent = "";
      cardSelect.appendChild(new Option("All cards", ""));
      (cards || []).forEach(function (c) {
        var q = c.question.length > 70 ? c.question.slice(0, 69) + "…" : c.question;
        cardSelect.appendChild(new Option(c.position + ". " + q, c.id));
      });
      var enabled = cards !== null;
      cardSelect.disabled = !enabled;
      hint.hidden = enabled;
      if (enabled) cardSelect.removeAttribute("aria-describedby");
      else cardSelect.setAttribute("aria-describedby", "card-hint");
    }
    deckSelect.addEventListener("change", function () {
      var id = deckSelect.value;
      var mine = ++asked;
      if (!id) return fill(null);
      fetch("/api/decks/" + encodeURIComponent(id), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (deck) { if (mine === asked) fill(deck ? deck.cards : null); })
        .catch(function () { if (mine === asked) fill(null); });
    });
  }

  // Feedback page: a key 1-5 records that final score at once and moves on; Enter accepts the
  // picked one (the suggestion, or the score given before). No key fires while the focus is in
  // a text field or on a control (a link, a button): there keys keep their own meaning, and a
  // focused score button submits itself with Enter or Space.
  var INTERACTIVE = "a[href], button, input, textarea, select, summary, [contenteditable]";

  function scoreForm(form) {
    var buttons = Array.prototype.slice.call(form.querySelectorAll("[data-score]"));
    var sent = false;

    function picked() {
      return buttons.filter(function (b) { return b.classList.contains("selected"); })[0];
    }

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      var target = event.target;
      if (target && target.closest && target.closest(INTERACTIVE)) return;
      var button = null;
      if (/^[1-5]$/.test(event.key)) {
        button = buttons[Number(event.key) - 1];
        if (button) {
          buttons.forEach(function (b) {
            b.classList.toggle("selected", b === button);
            b.setAttribute("aria-pressed", b === button ? "true" : "false");
          });
        }
      } else if (event.key === "Enter") {
        button = picked();
      }
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        sent = false;
        form.classList.remove("busy");
      }
    });
    form.addEventListener("submit", function (event) {
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      form.classList.add("busy");
    });
  }

  document.documentElement.classList.add("js"); // shows the keyboard hints
  if (/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)) {
    document.querySelectorAll("kbd[data-mod]").forEach(function (k) { k.textContent = "⌘"; });
  }
  document.querySelectorAll("form[data-answer-form]").forEach(answerForm);
  document.querySelectorAll("form[data-score-form]").forEach(scoreForm);
  document.querySelectorAll("form.filters #f-deck").forEach(historyFilter);
})();
