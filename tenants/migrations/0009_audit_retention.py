"""The audit log's trigger lets the prune task delete entries past the retention period, and nothing else."""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION tenants_auditentry_append_only() RETURNS trigger AS $$
DECLARE
    prune_before text := current_setting('shuzhi.audit_prune_before', true);
BEGIN
    -- Only tenants.audit_retention.audit_log_prune names a cut-off, and never one under 180 days.
    IF TG_OP = 'DELETE' AND coalesce(prune_before, '') <> ''
       AND OLD.at < least(prune_before::timestamptz, now() - interval '180 days') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit log entries cannot be changed or deleted inside the retention period';
END;
$$ LANGUAGE plpgsql;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION tenants_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit log entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_api_key_cors_origins")]
    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.AlterField(
            model_name="auditentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("create", "创建"),
                    ("update", "修改"),
                    ("delete", "删除"),
                    ("sign_in", "登录"),
                    ("sign_in_failed", "登录失败"),
                    ("sign_out", "退出登录"),
                    ("factor_enrolled", "启用两步验证"),
                    ("factor_reset", "重置两步验证"),
                    ("recovery_issued", "生成恢复码"),
                    ("recovery_used", "使用恢复码"),
                    ("password_changed", "修改密码"),
                    ("session_ended", "会话被终止"),
                    ("audit_exported", "导出审计日志"),
                    ("audit_pruned", "清理过期审计日志"),
                ],
                max_length=20,
                verbose_name="操作",
            ),
        ),
    ]
