"""The rows of the who-is-stuck table, built in Python.

The template loop (a row of nested conditions, a blocker list with a resolve
form each, a dozen tags and filters per row) was about half of the page's CPU
for 50 rows. This builds the same markup; every value from the database goes
through `_esc` (the escaping `format_html` and the template apply).
"""

from __future__ import annotations

from django import template
from django.template.defaultfilters import linebreaksbr, truncatechars
from django.urls import reverse
from django.utils.safestring import SafeString

from cohort.templatetags.lead_pages import _esc, learner_link, time_tag, tz_text

register = template.Library()

# Blocker text longer than this folds into <details> with a shorter summary.
FOLD_AFTER = 280
SUMMARY_CHARS = 200
NO_BLOCKER = '\n        <span class="muted">–</span>'


@register.simple_tag(takes_context=True)
def stuck_rows(context: template.Context, stuck, cohort, membership) -> SafeString:  # type: ignore[no-untyped-def]
    """Every `<tr>` of the table's body, or the one empty-state row."""
    if not stuck.rows:
        return _empty_row(stuck, cohort)
    is_lead = membership.role == "lead"
    if is_lead:
        request = context.get("request")
        next_path = _esc(request.get_full_path()) if request is not None else ""
        token = context.get("csrf_token")
        csrf = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_esc(token)}">'
            if token and token != "NOTPROVIDED"
            else ""
        )
        # One reverse() per page: the blocker's id is the "0" segment of this URL.
        action_head, action_tail = reverse("cohort:blocker_resolve", args=[cohort.slug, 0]).rsplit("/0/", 1)
        form_tail = (
            '" class="inline">\n'
            f'            {csrf}<input type="hidden" name="next" value="{next_path}">\n'
            '            <button type="submit" class="link-button small">Mark resolved</button>\n'
            "          </form>"
        )
    zone = cohort.timezone
    html: list[str] = []
    for row in stuck.rows:
        m = row.membership
        user = m.user
        github = f"@{_esc(user.github_username)}" if user.github_username else "no GitHub username"
        if row.current_step:
            step = f'<span title="{_esc(row.current_step.title)}">{_esc(row.current_step.code)}</span>'
        elif stuck.steps:
            step = "All done"
        else:
            step = '<span class="muted">–</span>'
        days = row.days_inactive
        inactive = "today" if days == 0 else f"{days} day{'' if days == 1 else 's'}"
        if row.is_inactive:
            inactive = f'<span class="badge changes_requested">{inactive}</span>'
        if row.never_active:
            since = f"never active, joined {_esc(tz_text(m.joined_at, zone, 'day'))}"
        else:
            since = f"last {_esc(tz_text(m.last_activity_at, zone, 'short'))}"
        blockers = []
        for b in row.blockers:
            text = b.blocker_text
            if len(text) > FOLD_AFTER:
                body = (
                    f"<details><summary>{_esc(truncatechars(text, SUMMARY_CHARS))}</summary>"
                    f'<p class="blocker-text">{linebreaksbr(text)}</p></details>'
                )
            else:
                body = f'<p class="blocker-text">{linebreaksbr(text)}</p>'
            form = (
                f'\n          <form method="post" action="{_esc(action_head)}/{int(b.pk)}/{_esc(action_tail)}{form_tail}'
                if is_lead
                else ""
            )
            blockers.append(
                '\n        <div class="blocker">\n'
                f'          <p class="blocker-meta"><span class="badge failure">{_esc(b.step.code)}</span> '
                f"{time_tag(b.created_at, zone)}</p>\n"
                f"          {body}{form}\n"
                "        </div>"
            )
        reviews = []
        if m.waiting_reviews:
            reviews.append(
                f'<span class="badge changes_requested">{int(m.waiting_reviews)} waiting for a first review</span>'
            )
        if m.changes_stalled:
            reviews.append(
                f'<span class="badge changes_requested">{int(m.changes_stalled)} with changes requested</span>'
            )
        if not reviews:
            reviews.append('<span class="muted">–</span>')
        if m.missed_sessions:
            missed = f"<strong>{int(m.missed_sessions)}</strong>"
            if m.missed_after_rsvp:
                missed += f'<span class="muted small stuck-sub">{int(m.missed_after_rsvp)} after an RSVP</span>'
        else:
            missed = '<span class="muted">0</span>'
        html.append(
            f"<tr{' class="has-blocker"' if row.blockers else ''}>\n"
            '      <th scope="row">\n'
            f"        {learner_link(context, cohort, m, 'learner-name')}\n"
            f'        <span class="muted small">{github}</span>\n'
            "      </th>\n"
            f"      <td>{step}</td>\n"
            '      <td class="num">\n'
            f"        {inactive}\n"
            f'        <span class="muted small stuck-sub">{since}</span>\n'
            "      </td>\n"
            f'      <td class="blockers">{"".join(blockers) if blockers else NO_BLOCKER}\n'
            "      </td>\n"
            "      <td>\n"
            f"        {' '.join(reviews)}\n"
            "      </td>\n"
            f'      <td class="num">\n        {missed}\n      </td>\n'
            "    </tr>"
        )
    return SafeString("\n    ".join(html))


def _empty_row(stuck, cohort) -> SafeString:  # type: ignore[no-untyped-def]
    f = stuck.filters
    if stuck.summary.learners == 0:
        overview = _esc(reverse("cohort:lead_overview", args=[cohort.slug]))
        text = f'No learners yet. Share the invite code or import a roster from the <a href="{overview}">overview</a>.'
    elif f.only_blocked and not f.only_inactive and not stuck.step:
        text = "No open blockers: nobody has reported being blocked, or every blocker has been resolved."
    else:
        everyone = _esc(reverse("cohort:lead_stuck", args=[cohort.slug]))
        text = f'Nobody matches these filters. <a href="{everyone}">Show everyone</a>.'
    return SafeString(f'<tr><td colspan="6" class="muted">\n      {text}\n    </td></tr>')
