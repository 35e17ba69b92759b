"""Admin console of one-off jobs: what runs on the `background` queue, with its progress. Read-only: jobs
are started by the admin API (`/_synapse/admin/...`) and by actions elsewhere in this console (e.g.
"Deactivate selected users"); failed jobs can be sent round again."""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "target", "status", "progress", "short_error", "created_at", "started_at",
                    "finished_at", "duration")
    list_filter = ("status", "kind")
    search_fields = ("=target",)
    fields = ("kind", "target", "status", "progress", "params_json", "result_json", "error", "attempts",
              "created_at", "started_at", "finished_at", "duration", "lease_owner", "lease_expires_at")
    readonly_fields = fields
    actions = ("retry_jobs",)

    def has_add_permission(self, request) -> bool:
        return False  # jobs are started by the actions that need them

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a job is the record of what was done

    @admin.display(description="progress")
    def progress(self, obj: Job) -> str:
        if obj.progress_total is None:
            return str(obj.progress_done) if obj.progress_done else "–"
        if obj.progress_total <= 0:
            return f"{obj.progress_done} / {obj.progress_total}"
        pct = min(100, obj.progress_done * 100 // obj.progress_total)
        return f"{obj.progress_done} / {obj.progress_total} ({pct}%)"

    @admin.display(description="error")
    def short_error(self, obj: Job) -> str:
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"

    @admin.display(description="duration")
    def duration(self, obj: Job) -> str:
        if obj.started_at is None:
            return "–"
        if obj.finished_at is None:
            return "running" if obj.status == Job.RUNNING else "–"
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"

    @admin.display(description="params")
    def params_json(self, obj: Job):
        return format_html("<pre>{}</pre>", json.dumps(obj.params, indent=2, sort_keys=True))

    @admin.display(description="result")
    def result_json(self, obj: Job):
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, sort_keys=True))

    @admin.action(description="Run the selected failed jobs again (they continue where they stopped)")
    def retry_jobs(self, request, queryset):
        from .handlers import retry_failed

        ids = retry_failed(queryset.values_list("id", flat=True))
        if not ids:
            self.message_user(request, "No failed job selected.", messages.WARNING)
            return
        self.message_user(request, f"{len(ids)} job(s) started again: " + ", ".join(f"#{i}" for i in ids),
                          messages.SUCCESS)
