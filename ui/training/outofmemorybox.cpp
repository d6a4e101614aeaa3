#include "ui/training/outofmemorybox.h"

#include <QAbstractButton>
#include <QMessageBox>
#include <QPushButton>

namespace convscope::ui {

void offerSmallerBatch(QWidget* parent, const QString& message, int largestBatch,
                       std::function<void()> resume) {
    auto* box = new QMessageBox(QMessageBox::Warning, QMessageBox::tr("Out of memory"), message,
                                QMessageBox::NoButton, parent);
    box->setObjectName(QStringLiteral("outOfMemoryBox"));
    auto* again = box->addButton(QMessageBox::tr("Resume with batch %1").arg(largestBatch),
                                 QMessageBox::AcceptRole);
    box->addButton(QMessageBox::Close);
    box->setAttribute(Qt::WA_DeleteOnClose);
    QObject::connect(box, &QMessageBox::buttonClicked, box,
                     [again, resume = std::move(resume)](QAbstractButton* clicked) {
                         if (clicked == again)
                             resume();
                     });
    box->open();
}

}  // namespace convscope::ui
