// flashgrade's card editor: the "try an answer" box grades the card as it is written, unsaved,
// while you type (POST /api/grade with a draft). Without this file the form still saves, and
// its "Grade it" button grades on the server.
(function () {
  "use strict";

  var DELAY_MS = 350; // after the last keystroke
  var MARKS = { covered: "✓", partial: "~", missing: "✗" };

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // text only: never markup from a card
    return node;
  }

  function editor(form) {
    var answer = document.querySelector("[data-try][form='" + form.id + "']");
    var result = document.querySelector("[data-try-result]");
    var button = document.querySelector("[data-try-button]");
    if (!answer || !result) return;
    var scale = [];
    try {
      scale = JSON.parse(result.getAttribute("data-scale") || "[]");
    } catch (e) {
      scale = [];
    }
    var fields = ["question", "points", "summary"].map(function (name) {
      return form.elements.namedItem(name);
    });
    var timer = null;
    var inFlight = null;
    var asked = 0; // only the latest request's reply is shown

    if (button) button.hidden = true; // the box follows the typing instead

    function label(score) {
      // the deck's name for the score, where its scale has one
      return scale[score - 1] ? score + " " + scale[score - 1] : "Suggested score";
    }

    function show(children, busy) {
      result.classList.toggle("busy", !!busy);
      result.replaceChildren.apply(result, children);
    }

    function message(text, isError) {
      show([element("p", isError ? "error" : "hint", text)]);
    }

    function render(grade) {
      var head = element("div", "try-score s" + grade.score);
      head.appendChild(element("span", "big-score", String(grade.score)));
      var words = element("span");
      words.appendChild(element("strong", "", label(grade.score)));
      words.appendChild(document.createElement("br"));
      words.appendChild(element("span", "meta",
        Math.round(grade.coverage * 100) + "% covered · " + grade.method));
      head.appendChild(words);
      var list = element("ul", "points");
      grade.points.forEach(function (p) {
        var item = element("li", "point " + p.status);
        item.setAttribute("data-point", p.id);
        var mark = element("span", "mark", MARKS[p.status] || "");
        mark.setAttribute("aria-hidden", "true");
        item.appendChild(mark);
        item.appendChild(element("span", "pid", p.id));
        item.appendChild(document.createTextNode(" " + p.text + " "));
        item.appendChild(element("span", "status", p.contradicted ? "argues against" : p.status));
        if (p.evidence) item.appendChild(element("span", "evidence", "“" + p.evidence + "”"));
        list.appendChild(item);
      });
      var children = [head, list];
      if (grade.warnings && grade.warnings.length) {
        var warnings = element("ul", "warnings");
        grade.warnings.forEach(function (w) { warnings.appendChild(element("li", "", w)); });
        children.push(warnings);
      }
      show(children);
    }

    function draft() {
      var summary = fields[2] ? fields[2].value : "";
      // the points field as typed: the server reads it as saving the card will
      return {
        question: fields[0] ? fields[0].value : "",
        points_markdown: fields[1] ? fields[1].value : "",
        summary: summary.trim() ? summary : null
      };
    }

    function grade() {
      timer = null;
      var text = answer.value;
      if (!text.trim()) {
        message("Type an answer to see the score it would get.", false);
        return;
      }
      var card = draft();
      if (!card.question.trim() || !card.points_markdown.trim()) {
        message("Write a question and at least one point ('- point') to grade against.", true);
        return;
      }
      var body = { deck: form.getAttribute("data-deck"), answer: text, draft: card };
      if (form.getAttribute("data-card")) body.card = form.getAttribute("data-card");
      if (inFlight) inFlight.abort();
      inFlight = typeof AbortController === "function" ? new AbortController() : null;
      var mine = ++asked;
      result.classList.add("busy");
      fetch(form.getAttribute("data-grade-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
        signal: inFlight ? inFlight.signal : undefined
      }).then(function (response) {
        return response.json().then(function (data) {
          if (mine !== asked) return;
          if (response.ok) render(data);
          else message("Not graded: " + (data.detail || response.statusText), true);
        });
      }).catch(function (error) {
        if (mine !== asked || (error && error.name === "AbortError")) return;
        message("Not graded: the server could not be reached.", true);
      });
    }

    function later() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(grade, DELAY_MS);
    }

    answer.addEventListener("input", later);
    fields.forEach(function (field) {
      if (field) field.addEventListener("input", function () { if (answer.value.trim()) later(); });
    });
    if (answer.value.trim() && !result.children.length) later();
  }

  document.querySelectorAll("form[data-editor]").forEach(editor);
})();
