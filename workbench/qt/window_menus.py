"""The main window's menus and status bar, built once at start-up (a mixin of `MainWindow`)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QProgressBar

from workbench.qt.statusbar import DeviceStatus


class WindowMenusMixin:
    """File, View, Training and Help menus; the status bar's busy line and device status."""

    def _action(self, text: str, slot, shortcut=None, menu: QMenu | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        key = QKeySequence.StandardKey
        self.new_action = self._action(self.tr("&New project"), self.new_project, key.New, file_menu)
        self.open_action = self._action(self.tr("&Open project…"), self.open_project_dialog, key.Open, file_menu)
        self.recent_menu = file_menu.addMenu(self.tr("Open &recent"))
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addSeparator()
        self.save_action = self._action(self.tr("&Save"), self.save_project, key.Save, file_menu)
        self.save_as_action = self._action(self.tr("Save &as…"), self.save_project_as, key.SaveAs, file_menu)
        file_menu.addSeparator()
        self._action(self.tr("Open dataset &folder…"), lambda: self.panes["data"]._choose_folder(),
                     "Ctrl+Shift+O", file_menu)
        file_menu.addSeparator()
        self._action(self.tr("&Quit"), self.close, key.Quit, file_menu)

        view_menu = bar.addMenu(self.tr("&View"))
        for number, cls in enumerate(self.pane_classes, start=1):
            self._action(self.tr(cls.title), lambda _=False, k=cls.key: self.show_step(k), f"Ctrl+{number}", view_menu)
        view_menu.addSeparator()
        self.checklist_action = self._action(self.tr("Pitfall &checklist…"), self.show_checklist, "Ctrl+K", view_menu)
        self._action(self.tr("&Runs…"), self.show_runs, "Ctrl+Shift+R", view_menu)
        self.help_action = self._action(self.tr("&Help panel"), lambda on: self.set_help_visible(on), None, view_menu)
        self.help_action.setCheckable(True)
        self.developer_action = self._action(self.tr("&Developer models (timm's test models)"),
                                             lambda on: self.set_developer_models(on), None, view_menu)
        self.developer_action.setCheckable(True)
        toggle = self.log_dock.toggleViewAction()
        toggle.setText(self.tr("Activity &log"))
        toggle.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(toggle)

        train_menu = bar.addMenu(self.tr("&Training"))
        train = self.panes["train"]
        self._action(self.tr("&Start"), lambda: (self.show_step("train"), train.start()), None, train_menu)
        self._action(self.tr("&Pause"), self.runner.pause, None, train_menu)
        self._action(self.tr("&Resume"), train.resume, None, train_menu)
        self._action(self.tr("S&top"), train.stop, "Ctrl+.", train_menu)

        help_menu = bar.addMenu(self.tr("&Help"))
        self._action(self.tr("&Welcome…"), self.show_welcome, None, help_menu)
        self._action(self.tr("&About Workbench"), self._about, None, help_menu)
        self._refresh_recent_menu()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyIndicator")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setMaximumHeight(12)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.device_status = DeviceStatus()
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.device_status)

    def set_developer_models(self, shown: bool) -> None:
        """List timm's tiny debugging models in the Model step (remembered between sessions)."""
        self.panes["model"].picker.set_developer_models(shown)
        self.developer_action.setChecked(shown)
        self.settings.setValue("developer/models", shown)
