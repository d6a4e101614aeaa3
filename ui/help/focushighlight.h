#pragma once

#include <QPointer>
#include <QWidget>

namespace convscope::ui {

/// A coloured frame drawn for a moment around a widget of the window, to show the learner
/// where a control is ("Show me"). A transparent child of the target's window that follows
/// the target's geometry and deletes itself after `durationMs`; one per window at a time.
class FocusHighlight : public QWidget {
    Q_OBJECT
public:
    static constexpr int kDurationMs = 2500;

    /// Frames `target`, replacing the window's previous highlight.
    static FocusHighlight* flash(QWidget* target, int durationMs = kDurationMs);
    /// The highlight now shown in `window`, or nullptr.
    static FocusHighlight* current(QWidget* window);

    QWidget* target() const { return m_target; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;

private:
    explicit FocusHighlight(QWidget* target);
    void follow();

    QPointer<QWidget> m_target;
};

}  // namespace convscope::ui
