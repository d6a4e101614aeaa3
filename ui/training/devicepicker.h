#pragma once

#include <QCoreApplication>
#include <QString>
#include <QStringList>

class QComboBox;

namespace convscope::ui {

/// The Device and Precision boxes of the training settings, filled once from what this build
/// and machine have (runtimeInfo(): the GPUs by name and memory, the CPU's threads and bf16).
/// The boxes belong to whichever layout they are put in.
class DevicePicker {
    Q_DECLARE_TR_FUNCTIONS(DevicePicker)
public:
    DevicePicker();

    QComboBox* deviceBox() const { return m_device; }
    QComboBox* precisionBox() const { return m_precision; }
    /// What is chosen, as the command line spells it: "auto", "cpu", "cuda:0".
    QString device() const;
    /// "auto", "fp32", "bf16" or "fp16".
    QString precision() const;
    /// The Device box's entries in words, one per device.
    QStringList deviceEntries() const;

private:
    QComboBox* m_device;
    QComboBox* m_precision;
};

}  // namespace convscope::ui
