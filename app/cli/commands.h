#pragma once

#include <string>
#include <vector>

namespace convscope::cli {

/// Each command takes the arguments after its name and returns the process exit code.
/// They throw UsageError for bad command lines and convscope::Error for failures.
int scanCommand(const std::vector<std::string>& args);
int demoDataCommand(const std::vector<std::string>& args);
int augmentCommand(const std::vector<std::string>& args);
int trainCommand(const std::vector<std::string>& args);
int fineTuneCommand(const std::vector<std::string>& args);
int evaluateCommand(const std::vector<std::string>& args);
int predictCommand(const std::vector<std::string>& args);
int summaryCommand(const std::vector<std::string>& args);
int filtersCommand(const std::vector<std::string>& args);
int featureMapsCommand(const std::vector<std::string>& args);
int camCommand(const std::vector<std::string>& args);
int infoCommand(const std::vector<std::string>& args);
int runsCommand(const std::vector<std::string>& args);
int reportCommand(const std::vector<std::string>& args);
int exportCommand(const std::vector<std::string>& args);
int cacheCommand(const std::vector<std::string>& args);
int controlCommand(const std::vector<std::string>& args);

}  // namespace convscope::cli
