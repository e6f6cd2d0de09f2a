// A small C++ program (libc++ over wasi-libc): counts the words of the file named by argv[1],
// writes the counts to argv[2] with ofstream, and prints a summary with iostream. Also reads
// std::chrono's clocks and std::random_device (random_get). Exit 1 on any error.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: wordfreq IN OUT\n";
        return 2;
    }
    auto start = std::chrono::steady_clock::now();
    std::ifstream in(argv[1]);
    if (!in) {
        std::cerr << "cannot open " << argv[1] << "\n";
        return 1;
    }
    std::map<std::string, int> counts;
    std::string word;
    while (in >> word) {
        counts[word]++;
    }
    std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    std::ofstream out(argv[2]);
    for (const auto &[w, n] : sorted) {
        out << w << " " << n << "\n";
    }
    out.close();
    if (!out) {
        std::cerr << "cannot write " << argv[2] << "\n";
        return 1;
    }
    std::random_device rd;
    unsigned r = rd();
    (void)r;
    auto elapsed = std::chrono::steady_clock::now() - start;
    auto wall = std::chrono::system_clock::now().time_since_epoch();
    bool sane = elapsed.count() >= 0 && std::chrono::duration_cast<std::chrono::hours>(wall).count() > 0;
    std::cout << counts.size() << " distinct words, top: " << sorted.front().first << " ("
              << sorted.front().second << ")" << (sane ? "" : " clocks!") << std::endl;
    return 0;
}
