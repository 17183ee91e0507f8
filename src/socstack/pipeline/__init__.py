"""The processing pipeline: input resolution, versions, provenance, running rules.

Celery (app, tasks, planner) wraps the plain functions here; tests call them directly.
"""
