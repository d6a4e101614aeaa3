#pragma once

// qcustomplot.h is written with Qt's keyword macros (signals, foreach), which this project
// turns off (QT_NO_KEYWORDS, because ATen uses the word `slots`). Map them for this header only.
#define signals Q_SIGNALS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef foreach
