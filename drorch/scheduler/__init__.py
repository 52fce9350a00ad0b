"""APScheduler wiring: what runs when (plan), slots and catch-up (timing), the engine.

APScheduler only schedules. History, locks and missed slots live in drorch's catalog;
the scheduled callable is a module-level function taking plain ids (calls.py).
"""
