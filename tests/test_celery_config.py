"""RELIABILITY 17: the Celery configuration holds together."""

from __future__ import annotations

from config.celery import app


def test_visibility_timeout_outlives_the_hard_time_limit():
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_soft_limit_below_hard_limit():
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_long_tasks_are_acked_late_requeued_on_worker_loss_and_prefetched_one_at_a_time():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_queues_and_routes():
    assert {q.name for q in app.conf.task_queues} == {"default", "inference"}
    assert app.conf.task_default_queue == "default"
    assert app.conf.task_routes["inference.*"] == {"queue": "inference"}


def test_sweep_is_scheduled():
    assert app.conf.beat_schedule["sweep-deliveries"]["task"] == "exercises.sweep_deliveries"
