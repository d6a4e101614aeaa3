#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <algorithm>

/// Longest gap between ticks of a 5 ms timer: how long the GUI event loop was blocked.
class StallMeter : public QObject {
public:
    StallMeter() {
        m_clock.start();
        connect(&m_timer, &QTimer::timeout, this,
                [this] { m_longest = std::max(m_longest, m_clock.restart()); });
        m_timer.start(5);
    }
    qint64 longestMs() const { return m_longest; }
    void reset() {
        m_longest = 0;
        m_clock.restart();
    }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_longest = 0;
};
