"""Quartermaster services: parser, planner, release gate and the qm CLI."""
