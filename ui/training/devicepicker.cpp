#include "ui/training/devicepicker.h"

#include "runtime.h"

#include <QComboBox>

namespace convscope::ui {

DevicePicker::DevicePicker() : m_device(new QComboBox), m_precision(new QComboBox) {
    const RuntimeInfo info = runtimeInfo();
    m_device->addItem(
        info.cudaDevices.empty() ? tr("auto (CPU: no GPU found)") : tr("auto (the first GPU)"),
        QStringLiteral("auto"));
    m_device->addItem(
        tr("CPU, %1 threads%2").arg(info.cpuThreads).arg(info.cpuBf16 ? tr(", bf16") : QString()),
        QStringLiteral("cpu"));
    for (const CudaDeviceInfo& d : info.cudaDevices)
        m_device->addItem(tr("cuda:%1 %2, %3")
                              .arg(d.index)
                              .arg(QString::fromStdString(d.name),
                                   QString::fromStdString(gibibytesText(d.memoryBytes))),
                          QStringLiteral("cuda:%1").arg(d.index));
    m_device->setToolTip(
        info.cudaDevices.empty()
            ? tr("No CUDA GPU was found: training runs on every CPU core (LibTorch %1%2)")
                  .arg(QString::fromStdString(info.libtorch),
                       !info.cudaCompiled ? QString()
                       : info.cudaLoaded  ? tr(", built with CUDA")
                                          : tr(", built with CUDA; its libraries are not "
                                                "loaded: %1")
                                               .arg(QString::fromStdString(info.cudaStatus)))
            : tr("auto: the first GPU; or choose one by name"));
    const QString cpuAuto = QString::fromLatin1(precisionName(info.cpuDefault));
    const QString gpuAuto = QString::fromLatin1(precisionName(info.cudaDefault));
    m_precision->addItem(info.cudaDevices.empty() ? tr("auto (%1 on this CPU)").arg(cpuAuto)
                                                  : tr("auto (%1 on the GPU)").arg(gpuAuto),
                         QStringLiteral("auto"));
    for (const char* p : {"fp32", "bf16", "fp16"})
        m_precision->addItem(QString::fromLatin1(p), QString::fromLatin1(p));
    m_precision->setToolTip(
        tr("Arithmetic precision. bf16 and fp16 compute in 16 bits where it is safe "
           "(autocast) and keep the weights in float32; fp16 scales the loss to keep small "
           "gradients. auto: bf16 on GPUs that have it (else fp16) and on CPUs with "
           "AVX512_BF16 or AMX (else fp32)."));
}

QString DevicePicker::device() const {
    return m_device->currentData().toString();
}

QString DevicePicker::precision() const {
    return m_precision->currentData().toString();
}

QStringList DevicePicker::deviceEntries() const {
    QStringList entries;
    for (int i = 0; i < m_device->count(); ++i)
        entries << m_device->itemText(i);
    return entries;
}

}  // namespace convscope::ui
