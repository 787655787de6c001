"""Load the demo once: departments, users (passwords printed once), and each app's demo content."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from agents.demo import (
    DEMO_API_KEY_DEPARTMENT,
    demo_agents_load,
    demo_api_key_load,
    demo_knowledge_load,
    demo_model_load,
    demo_test_sets_load,
    demo_usage_load,
)
from tenants.demo import demo_departments_load, demo_loaded


class Command(BaseCommand):
    help = "Load the demo (a district with two bureaus, one user per role) unless it is loaded already."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Give every demo account this password (default: random, printed once).")

    def handle(self, *args, password=None, **options):
        if demo_loaded():
            self.stdout.write(_("演示数据已存在，沿用现有数据（密码仅在首次创建时显示）。"))
            demo_agents_load()
            demo_knowledge_load()
            demo_test_sets_load()
            self._usage()
            self._model()
            self._api_key()
            return
        accounts = demo_departments_load(password=password)
        agents = demo_agents_load()
        self.stdout.write(_("已为演示部门发布 %(n)s 个智能体。") % {"n": len(agents)})
        documents = demo_knowledge_load()
        demo_test_sets_load()
        self.stdout.write(_("已将 %(n)s 份演示政策文件交给后台处理。") % {"n": len(documents)})
        self._usage()
        self._model()
        self.stdout.write(self.style.SUCCESS(_("已创建演示数据。以下账号密码只显示这一次，请妥善保存：")))
        width = max(len(a.username) for a in accounts)
        for account in accounts:
            line = f"  {account.username.ljust(width)}  {account.password}  {account.role} · {account.department}"
            self.stdout.write(line)
        self._api_key()

    def _api_key(self):
        secret = demo_api_key_load()
        if secret:
            self.stdout.write(
                self.style.SUCCESS(
                    _("演示 API 密钥（%(department)s，只显示这一次；用法见 README 的“API”一节）：")
                    % {"department": DEMO_API_KEY_DEPARTMENT}
                )
            )
            self.stdout.write(f"  {secret}")

    def _usage(self):
        # A few weeks of use, so the leaders' reports show real charts at once (once: skipped when there is history).
        created = demo_usage_load()
        if created:
            self.stdout.write(_("已生成最近几周的演示使用记录 %(n)s 条，领导报表可直接查看。") % {"n": created})

    def _model(self):
        from agents.tasks import demo_conversations

        # After the worker has ingested the demo documents, staff find a finished conversation.
        demo_conversations.apply_async(countdown=5)
        endpoint = demo_model_load()
        if endpoint is None:
            self.stdout.write(_("未设置 OPENAI_BASE_URL：演示智能体以“仅检索”模式回答（未连接大语言模型）。"))
        else:
            self.stdout.write(
                _("演示智能体使用模型服务 %(url)s（模型 %(model)s）。")
                % {"url": endpoint.base_url, "model": endpoint.model_names}
            )
