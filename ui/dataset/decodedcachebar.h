#pragma once

#include <QWidget>

class QLabel;
class QTimer;
class QToolButton;

namespace convscope::ui {

// A line under the dataset: how much the decoded-image cache holds and where (training keeps
// each dataset's decoded images there, so a later run on unchanged files skips decoding), with
// a button that clears it. Refreshed while shown, every few seconds.
class DecodedCacheBar : public QWidget {
    Q_OBJECT
public:
    static constexpr int kRefreshMs = 5000;

    explicit DecodedCacheBar(QWidget* parent = nullptr);

    QString text() const;

public Q_SLOTS:
    void refresh();
    void clearCache();

protected:
    void showEvent(QShowEvent* event) override;
    void hideEvent(QHideEvent* event) override;

private:
    QLabel* m_label;
    QToolButton* m_clear;
    QTimer* m_timer;
    QString m_lastAction;
};

}  // namespace convscope::ui
