"""Table stamps move on every write Django sends, and cached fragments follow them."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cohort.models import Cohort, User
from config import table_versions
from config.table_versions import fragment, versions, written_table
from tests.factories import CohortFactory
from tests.helpers import tables_read

COHORT = Cohort._meta.db_table


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ('INSERT INTO "cohort_cohort" ("name") VALUES (%s)', "cohort_cohort"),
        ('INSERT OR IGNORE INTO "cohort_cohort" ("name") VALUES (?)', "cohort_cohort"),
        ('UPDATE "cohort_cohort" SET "name" = %s', "cohort_cohort"),
        ('  delete from "cohort_cohort" WHERE "id" = 1', "cohort_cohort"),
        ("UPDATE cohort_cohort SET name = 'x'", "cohort_cohort"),
        ('SELECT "cohort_cohort"."id" FROM "cohort_cohort"', None),
        ('INSERT INTO "django_session" ("session_key") VALUES (%s)', None),
        ("SAVEPOINT s1", None),
    ],
)
def test_written_table(sql, table):
    assert written_table(sql) == table


@pytest.mark.django_db
class TestStampsMove:
    def stamp(self) -> int:
        return versions([COHORT])[0]

    def test_a_save_moves_the_stamp(self):
        before = self.stamp()
        CohortFactory()
        assert self.stamp() != before

    def test_a_bulk_update_moves_the_stamp(self):
        CohortFactory()
        before = self.stamp()
        assert Cohort.objects.update(name="Renamed") == 1
        assert self.stamp() != before

    def test_a_queryset_delete_and_raw_sql_move_the_stamp(self):
        CohortFactory()
        before = self.stamp()
        Cohort.objects.all().delete()
        after_delete = self.stamp()
        assert after_delete != before
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{COHORT}" SET "name" = %s', ["x"])
        assert self.stamp() != after_delete

    def test_reads_and_other_tables_leave_it(self):
        CohortFactory()
        before = self.stamp()
        list(Cohort.objects.all())
        User.objects.create_user(email="someone@example.com", password="x")
        assert self.stamp() == before

    def test_a_write_in_a_transaction_moves_it_again_after_the_commit(self, django_capture_on_commit_callbacks):
        before = self.stamp()
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            CohortFactory()
            during = self.stamp()
            assert during != before  # a read later in the same transaction misses the cache
        assert len(callbacks) == 1, "one callback moves every table the transaction wrote"
        assert self.stamp() not in (before, during)

    def test_a_rolled_back_savepoint_does_not_take_later_writes_with_it(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            try:
                with transaction.atomic():
                    CohortFactory()
                    raise RuntimeError("roll the savepoint back")
            except RuntimeError:
                pass
            before_commit = None
            CohortFactory()
            before_commit = self.stamp()
        assert len(callbacks) == 1
        assert self.stamp() != before_commit


@pytest.mark.django_db
class TestFragment:
    def render_names(self, calls: list[int]) -> str:
        calls.append(1)
        return ", ".join(Cohort.objects.order_by("name").values_list("name", flat=True))

    def test_cached_until_a_table_it_reads_is_written(self):
        CohortFactory(name="A")
        calls: list[int] = []

        def cohorts():
            return fragment("test-names", tables=[Cohort], key=[], render=lambda: self.render_names(calls))

        assert cohorts() == "A"
        assert cohorts() == "A"
        assert len(calls) == 1
        Cohort.objects.update(name="B")  # a bulk write, which save signals never see
        assert cohorts() == "B"
        assert len(calls) == 2

    def test_the_key_separates_viewers(self):
        rendered = [
            fragment("test-viewer", tables=[Cohort], key=[viewer], render=lambda v=viewer: f"for {v}")
            for viewer in (1, 2, 1)
        ]
        assert rendered == ["for 1", "for 2", "for 1"]

    def test_an_evicted_stamp_comes_back_different(self):
        first = versions([COHORT])[0]
        from django.core.cache import cache

        cache.delete(table_versions.PREFIX + COHORT)
        assert versions([COHORT])[0] != first

    def test_tables_read_finds_joined_tables(self):
        with CaptureQueriesContext(connection) as captured:
            list(User.objects.filter(memberships__cohort__slug="x"))
        assert {"cohort_user", "cohort_membership", "cohort_cohort"} <= tables_read(captured)

    def test_a_value_is_cached_even_when_empty(self):
        calls: list[int] = []

        def names() -> list[str]:
            calls.append(1)
            return list(Cohort.objects.values_list("name", flat=True))

        def read() -> list[str]:
            return table_versions.cached("test-values", tables=[Cohort], key=[], compute=names)

        assert read() == [] and read() == []
        assert len(calls) == 1  # an empty answer is an answer, not a miss
        CohortFactory(name="A")
        assert read() == ["A"] and len(calls) == 2


@pytest.mark.django_db
def test_a_write_with_the_cache_down_is_kept_and_its_stamp_moves_once_the_cache_is_back(settings, caplog):
    from tests.test_service_unavailable import DOWN_REDIS

    before = versions([COHORT])[0]
    working = settings.CACHES
    settings.CACHES = DOWN_REDIS
    CohortFactory(slug="written-while-down")  # no exception: the row is what matters
    assert "Could not move the cache stamps" in caplog.text
    settings.CACHES = working
    assert versions([COHORT])[0] == before  # the cache never heard of that write...
    User.objects.create_user(email="later@example.com", password="x")  # ...until the next write anywhere
    assert versions([COHORT])[0] != before
    assert Cohort.objects.filter(slug="written-while-down").exists()


@pytest.mark.django_db
def test_a_form_fragment_gives_each_viewer_their_own_csrf_token():
    from django.middleware.csrf import CsrfViewMiddleware, _unmask_cipher_token
    from django.template import engines
    from django.test import RequestFactory

    from config.table_versions import csrf_placeholder, form_fragment

    template = engines["django"].from_string('<form method="post">{% csrf_token %}<button>Go</button></form>')
    calls: list[int] = []

    def render(token: str) -> str:
        calls.append(1)
        return template.render({"csrf_token": token})

    secrets_seen = []
    for _viewer in range(2):
        request = RequestFactory().get("/")
        CsrfViewMiddleware(lambda r: None).process_request(request)
        html = form_fragment(request, "test-form", tables=[Cohort], key=[], render=render)
        assert csrf_placeholder() not in html
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        secrets_seen.append(_unmask_cipher_token(token))
        assert secrets_seen[-1] == request.META["CSRF_COOKIE"]  # this viewer's secret, not the first one's
    assert len(calls) == 1 and secrets_seen[0] != secrets_seen[1]


def test_the_code_version_follows_every_template_and_module(settings, tmp_path):
    from config.table_versions import code_version

    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.html"
    page.write_text("<p>one</p>")
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "views.py").write_text("x = 1\n")
    settings.BASE_DIR = tmp_path
    seen = []
    try:
        for change in (None, lambda: page.write_text("<p>two</p>"), lambda: (tmp_path / "cohort" / "new.py").touch()):
            if change:
                change()
            code_version.cache_clear()
            seen.append(code_version())
    finally:
        code_version.cache_clear()
    assert len(set(seen)) == 3
