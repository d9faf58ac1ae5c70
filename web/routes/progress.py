"""Pages for progress and trust: history, stats (per deck and overall) with grader agreement,
and the calibration switch. They work without JavaScript; the switch's form carries a CSRF
token and answers with a redirect (303).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from grader import CardNotFound
from web import charts, stats
from web.catalog import DeckNotFound
from web.deck_calibration import Calibrator
from web.deps import CsrfToken, PracticeDep, verify_csrf
from web.history import Filters, page_of
from web.history import decks_with_history as history_decks
from web.practice import NotFound
from web.templating import render

router = APIRouter(include_in_schema=False)

FilterText = Annotated[str | None, Query(max_length=200)]
Days = Annotated[int, Query(ge=1, le=365)]


def _method(practice: Any) -> str:
    """The method grading new answers, whose calibration the stats pages show."""
    return "llm" if practice.settings.llm_model else practice.offline.method


def _calibrator(request: Request) -> Calibrator:
    return request.app.state.calibrator  # type: ignore[no-any-return]


# --- history ----------------------------------------------------------------------------------


@router.get("/history", name="history")
def history(
    request: Request,
    practice: PracticeDep,
    deck: FilterText = None,
    card: FilterText = None,
    overridden: bool = False,
    page: Annotated[int, Query(ge=1, le=10**9)] = 1,
) -> HTMLResponse:
    filters = Filters((deck or "").strip() or None, (card or "").strip() or None, overridden)
    try:
        result = page_of(practice.store, practice.catalog, practice.person, filters, page)
    except DeckNotFound as exc:
        raise NotFound(str(exc)) from None
    chosen, selected_card = None, filters.card
    if filters.deck is not None:
        try:
            chosen = practice.catalog.get(filters.deck)
            if filters.card is not None:
                selected_card = chosen.card(filters.card).id
        except (DeckNotFound, CardNotFound):
            pass
    titles = dict(history_decks(practice.catalog, practice.store, practice.person))
    csv_params = filters.params()
    context = {
        "result": result,
        "filters": filters,
        "decks": titles,
        "deck": chosen,
        "selected_card": selected_card,
        "titles": titles,
        "positions": _positions(practice),
        "csv_url": "/api/attempts.csv" + (f"?{urlencode(csv_params)}" if csv_params else ""),
        "page_url": lambda n: "/history?" + urlencode(filters.params(page=n)),
    }
    return render(request, "history.html", context)


def _positions(practice: Any) -> dict[tuple[str, str], int]:
    return {(d.id, c.id): c.position for d in practice.catalog.decks() for c in d.cards}


# --- stats ------------------------------------------------------------------------------------


BY_CARD_ROWS = 50  # cards in the agreement table of a deck's stats


@router.get("/stats", name="stats")
def stats_all(request: Request, practice: PracticeDep, days: Days = stats.DEFAULT_DAYS) -> Response:
    figures = stats.compute(practice.store, practice.catalog, practice.person, None, days=days)
    calibrator = _calibrator(request)
    method = _method(practice)
    states = {d: calibrator.state(practice.person, d, method) for d in figures.agreement.by_deck}
    return _stats_page(request, practice, figures, states=states)


@router.get("/decks/{deck}/stats", name="deck_stats")
def stats_deck(
    request: Request,
    deck: str,
    practice: PracticeDep,
    token: CsrfToken,
    days: Days = stats.DEFAULT_DAYS,
) -> Response:
    try:
        figures = stats.compute(practice.store, practice.catalog, practice.person, deck, days=days)
    except stats.NoSuchDeck as exc:
        raise NotFound(str(exc)) from None
    calibration = _calibrator(request).state(practice.person, deck, _method(practice))
    return _stats_page(request, practice, figures, calibration=calibration, token=token)


def _stats_page(
    request: Request,
    practice: Any,
    figures: stats.Stats,
    *,
    states: dict[str, Any] | None = None,
    calibration: Any = None,
    token: str | None = None,
) -> HTMLResponse:
    decks = practice.catalog.decks()
    cards = {(d.id, c.id): c for d in decks for c in d.cards}
    # a page of at most BY_CARD_ROWS cards, those where the person differs most
    differing = sorted(
        figures.agreement.by_card.items(), key=lambda item: (-item[1].mean_abs, -item[1].n)
    )[:BY_CARD_ROWS]
    by_card = sorted(
        differing,
        key=lambda item: (
            item[0][0],
            cards[item[0]].position if item[0] in cards else 10**9,
            item[0][1],
        ),
    )
    context = {
        **_chart_context(figures),
        "cards": cards,
        "by_card": by_card,
        "by_card_total": len(figures.agreement.by_card),
        "titles": {d.id: d.title for d in decks},
        "states": states or {},
        "calibration": calibration,
        "csrf_token": token,
        "llm_configured": bool(practice.settings.llm_model),
    }
    return render(request, "stats.html", context)


def _chart_context(s: stats.Stats) -> dict[str, Any]:
    """The figures and their charts (inline SVG) for stats.html."""
    scope = s.title
    reviews = [
        charts.Datum(
            f"{d.day} {d:%b}",
            f"{d:%a %-d %b %Y}: {n} review{'s' if n != 1 else ''}",
            n,
        )
        for d, n in s.reviews_per_day
    ]
    mastery = [
        charts.Datum(
            f"{d.day} {d:%b}",
            f"{d:%a %-d %b %Y}: {m} of {s.cards} cards mastered ({_pct(m, s.cards)})",
            m / s.cards if s.cards else 0.0,
        )
        for d, m in s.mastery
    ]
    busiest = max(s.reviews_per_day, key=lambda x: x[1], default=None)
    reviews_desc = (
        f"{s.reviews_in_window} reviews in the last {s.days} days"
        + (f"; the most, {busiest[1]}, on {busiest[0]:%-d %b}" if busiest and busiest[1] else "")
        + "."
    )
    mastery_desc = (
        f"Share of the {s.cards} cards whose last score is 4 or 5 and which are not overdue, "
        f"at the end of each of the last {s.days} days; now {s.mastered_now} "
        f"({_pct(s.mastered_now, s.cards)})."
    )
    counts = ", ".join(f"{n}: {c}" for n, c in enumerate(s.score_counts, 1))
    return {
        "s": s,
        "reviews_chart": charts.bar_chart(
            reviews,
            chart_id="reviews",
            title=f"Reviews per day · {scope}",
            desc=reviews_desc,
            empty="No reviews in these days",
        ),
        "mastery_chart": charts.line_chart(
            mastery if s.scored else [],
            chart_id="mastery",
            title=f"Mastery over time · {scope}",
            desc=mastery_desc,
            empty="No scored answers yet",
        ),
        "scores_chart": charts.score_bars(
            s.score_counts,
            chart_id="scores",
            title=f"Final scores · {scope}",
            desc=f"How often each final score was given: {counts}.",
        ),
        "meter": charts.meter,
        "pct": _pct,
        "windows": stats.WINDOWS,
    }


def _pct(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


@router.post("/decks/{deck}/calibration", name="calibration", dependencies=[Depends(verify_csrf)])
def set_calibration(
    request: Request,
    deck: str,
    practice: PracticeDep,
    enabled: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """The deck's own calibration switch (the global one is FLASHGRADE_CALIBRATION)."""
    if not stats.deck_exists(practice.catalog, deck):
        raise NotFound(f"no deck {deck!r}")
    _calibrator(request).set_enabled(practice.person, deck, enabled)
    url = str(request.app.url_path_for("deck_stats", deck=deck)) + "#calibration"
    return RedirectResponse(url, status_code=303)
