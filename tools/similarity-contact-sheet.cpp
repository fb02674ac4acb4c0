// similarity-contact-sheet: draw each query photo beside its nearest matches.
//
// Usage: similarity-contact-sheet --input MATCHES.tsv --output SHEET.png
//                                 [--title TEXT] [--subtitle TEXT] [--thumb PIXELS]
//
// MATCHES.tsv has one line per match, tab-separated, without a header:
//   query_id  query_path  query_category  rank  match_path  match_category  distance
// Lines of one query must be adjacent.  Each query becomes one row of the
// sheet: the query photo (blue frame) followed by its matches in rank order,
// framed green when the match has the query's category and red otherwise,
// each labelled with its cosine distance and category.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Match {
	std::string path;
	std::string category;
	int rank = 0;
	double distance = 0.0;
};

struct QueryRow {
	std::string id;
	std::string path;
	std::string category;
	std::vector<Match> matches;
};

struct Options {
	std::string input;
	std::string output;
	std::string title;
	std::string subtitle;
	int thumb = 160;
};

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kGrey(120, 120, 120);
const cv::Scalar kQueryFrame(200, 110, 0);  // BGR: blue
const cv::Scalar kSameCategory(60, 160, 60);  // green
const cv::Scalar kOtherCategory(40, 40, 210);  // red
constexpr int kMargin = 10;
constexpr int kFrame = 4;
constexpr int kLabelHeight = 36;
constexpr int kTitleHeight = 64;

[[noreturn]] void usage_error(const std::string &message)
{
	std::cerr << "similarity-contact-sheet: " << message << "\n"
			  << "usage: similarity-contact-sheet --input MATCHES.tsv --output SHEET.png"
				 " [--title TEXT] [--subtitle TEXT] [--thumb PIXELS]\n";
	std::exit(2);
}

Options parse_options(int argc, char **argv)
{
	Options options;
	for (int i = 1; i < argc; ++i) {
		std::string name = argv[i];
		if (i + 1 >= argc)
			usage_error("option " + name + " requires a value");
		std::string value = argv[++i];
		if (name == "--input")
			options.input = value;
		else if (name == "--output")
			options.output = value;
		else if (name == "--title")
			options.title = value;
		else if (name == "--subtitle")
			options.subtitle = value;
		else if (name == "--thumb") {
			options.thumb = std::atoi(value.c_str());
			if (options.thumb < 48 || options.thumb > 1024)
				usage_error("--thumb must be between 48 and 1024, not " + value);
		} else
			usage_error("unknown option " + name);
	}
	if (options.input.empty() || options.output.empty())
		usage_error("--input and --output are required");
	return options;
}

std::vector<std::string> split_tabs(const std::string &line)
{
	std::vector<std::string> fields;
	std::stringstream stream(line);
	std::string field;
	while (std::getline(stream, field, '\t'))
		fields.push_back(field);
	return fields;
}

std::vector<QueryRow> read_matches(const std::string &path)
{
	std::ifstream file(path);
	if (!file) {
		std::cerr << "similarity-contact-sheet: could not open \"" << path << "\"\n";
		std::exit(1);
	}
	std::vector<QueryRow> rows;
	std::string line;
	int line_number = 0;
	while (std::getline(file, line)) {
		++line_number;
		if (line.empty())
			continue;
		std::vector<std::string> fields = split_tabs(line);
		if (fields.size() != 7) {
			std::cerr << "similarity-contact-sheet: line " << line_number << " of \"" << path
					  << "\" has " << fields.size() << " fields, expected 7\n";
			std::exit(1);
		}
		if (rows.empty() || rows.back().id != fields[0])
			rows.push_back(QueryRow{fields[0], fields[1], fields[2], {}});
		Match match;
		match.rank = std::atoi(fields[3].c_str());
		match.path = fields[4];
		match.category = fields[5];
		match.distance = std::atof(fields[6].c_str());
		rows.back().matches.push_back(match);
	}
	return rows;
}

// Scale the photo to fit a square of `size` pixels, centred on white.  A
// photo that cannot be read becomes a grey square, so one missing file does
// not stop the sheet.
cv::Mat load_thumbnail(const std::string &path, int size)
{
	cv::Mat thumb(size, size, CV_8UC3, kWhite);
	// Check first, because imread logs its own warning for a missing file.
	cv::Mat photo;
	if (std::ifstream(path).good())
		photo = cv::imread(path, cv::IMREAD_COLOR);
	if (photo.empty()) {
		std::cerr << "similarity-contact-sheet: could not read \"" << path << "\", drawing a blank\n";
		thumb.setTo(cv::Scalar(200, 200, 200));
		return thumb;
	}
	double scale = std::min(static_cast<double>(size) / photo.cols,
							static_cast<double>(size) / photo.rows);
	int width = std::max(1, static_cast<int>(photo.cols * scale));
	int height = std::max(1, static_cast<int>(photo.rows * scale));
	cv::Mat scaled;
	cv::resize(photo, scaled, cv::Size(width, height), 0, 0, cv::INTER_AREA);
	scaled.copyTo(thumb(cv::Rect((size - width) / 2, (size - height) / 2, width, height)));
	return thumb;
}

// Shorten text with "..." until it fits `width` pixels.
std::string fit_text(const std::string &text, double scale, int width)
{
	std::string fitted = text;
	int baseline = 0;
	while (fitted.size() > 3 &&
		   cv::getTextSize(fitted, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline).width > width)
		fitted = fitted.substr(0, fitted.size() - 4) + "...";
	return fitted;
}

void draw_tile(cv::Mat &sheet, cv::Point origin, int size, const std::string &photo_path,
			   const cv::Scalar &frame, const std::string &line1, const std::string &line2)
{
	cv::Mat thumb = load_thumbnail(photo_path, size);
	thumb.copyTo(sheet(cv::Rect(origin.x, origin.y, size, size)));
	cv::rectangle(sheet, cv::Rect(origin.x - kFrame / 2, origin.y - kFrame / 2,
								  size + kFrame, size + kFrame), frame, kFrame);
	const double scale = 0.42;
	cv::putText(sheet, fit_text(line1, scale, size), cv::Point(origin.x, origin.y + size + 15),
				cv::FONT_HERSHEY_SIMPLEX, scale, kBlack, 1, cv::LINE_AA);
	cv::putText(sheet, fit_text(line2, scale, size), cv::Point(origin.x, origin.y + size + 31),
				cv::FONT_HERSHEY_SIMPLEX, scale, kGrey, 1, cv::LINE_AA);
}

std::string format_distance(double distance)
{
	char buffer[32];
	std::snprintf(buffer, sizeof buffer, "d = %.4f", distance);
	return buffer;
}

}  // namespace

int main(int argc, char **argv)
{
	Options options = parse_options(argc, argv);
	std::vector<QueryRow> rows = read_matches(options.input);
	if (rows.empty()) {
		std::cerr << "similarity-contact-sheet: \"" << options.input << "\" contains no matches\n";
		return 1;
	}

	size_t max_matches = 0;
	for (const QueryRow &row : rows)
		max_matches = std::max(max_matches, row.matches.size());

	const int size = options.thumb;
	const int cell_width = size + 2 * kMargin;
	const int cell_height = size + kLabelHeight + 2 * kMargin;
	// The query column is followed by a gap one margin wide.
	const int width = static_cast<int>(max_matches + 1) * cell_width + 2 * kMargin;
	const int height = kTitleHeight + static_cast<int>(rows.size()) * cell_height + kMargin;
	cv::Mat sheet(height, width, CV_8UC3, kWhite);

	cv::putText(sheet, fit_text(options.title, 0.6, width - 2 * kMargin),
				cv::Point(kMargin, 26), cv::FONT_HERSHEY_SIMPLEX, 0.6, kBlack, 1, cv::LINE_AA);
	cv::putText(sheet, fit_text(options.subtitle, 0.5, width - 2 * kMargin),
				cv::Point(kMargin, 50), cv::FONT_HERSHEY_SIMPLEX, 0.5, kGrey, 1, cv::LINE_AA);

	for (size_t r = 0; r < rows.size(); ++r) {
		const QueryRow &row = rows[r];
		int top = kTitleHeight + static_cast<int>(r) * cell_height + kMargin;
		draw_tile(sheet, cv::Point(kMargin, top), size, row.path, kQueryFrame,
				  "query " + row.id, row.category);
		for (size_t m = 0; m < row.matches.size(); ++m) {
			const Match &match = row.matches[m];
			int left = 2 * kMargin + static_cast<int>(m + 1) * cell_width;
			const cv::Scalar &frame =
				match.category == row.category ? kSameCategory : kOtherCategory;
			draw_tile(sheet, cv::Point(left, top), size, match.path, frame,
					  "#" + std::to_string(match.rank) + "  " + format_distance(match.distance),
					  match.category);
		}
	}

	if (!cv::imwrite(options.output, sheet)) {
		std::cerr << "similarity-contact-sheet: could not write \"" << options.output << "\"\n";
		return 1;
	}
	std::cout << "wrote " << options.output << " (" << rows.size() << " queries, "
			  << width << "x" << height << " pixels)\n";
	return 0;
}
